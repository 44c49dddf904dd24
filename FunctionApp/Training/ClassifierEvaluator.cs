using FunctionApp.Classification;
using FunctionApp.Inference;

namespace FunctionApp.Training;

/// <summary>Top-1 accuracy over a labelled folder, overall and per class.</summary>
public sealed record EvaluationReport(string Model, string Version, int Images, int Correct, int Unreadable, IReadOnlyDictionary<string, double> PerClassAccuracy)
{
    public double Accuracy => Images == 0 ? 0 : (double)Correct / Images;
}

/// <summary>Runs a model over a labelled image folder through the serving path and counts top-1 hits.</summary>
public sealed class ClassifierEvaluator(ImageClassifier classifier)
{
    public async Task<EvaluationReport> EvaluateAsync(ModelEntry model, LabelledImageFolder folder, IProgress<int>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(folder);
        var hits = new int[folder.Classes.Count];
        var totals = new int[folder.Classes.Count];
        int unreadable = 0, done = 0;
        string version = model.Version;
        foreach (var chunk in folder.Images.Chunk(32))
        {
            var images = new List<NamedImage>(chunk.Length);
            foreach (var image in chunk)
                images.Add(new NamedImage(image.Path, await File.ReadAllBytesAsync(image.Path, cancellationToken)));
            var result = await classifier.ClassifyBatchAsync(images, model, topK: 1, cancellationToken);
            version = result.Version;
            for (int i = 0; i < chunk.Length; i++)
            {
                var prediction = result.Images[i];
                if (prediction.Top is not { Count: > 0 } top)
                {
                    unreadable++;
                    continue;
                }

                int expected = chunk[i].ClassIndex;
                totals[expected]++;
                if (top[0].Label == folder.Classes[expected])
                    hits[expected]++;
            }

            done += chunk.Length;
            progress?.Report(done);
        }

        var perClass = folder.Classes.Select((c, i) => (c, totals[i] == 0 ? 0 : (double)hits[i] / totals[i])).ToDictionary(p => p.c, p => p.Item2);
        return new EvaluationReport(model.Name, version, totals.Sum(), hits.Sum(), unreadable, perClass);
    }
}

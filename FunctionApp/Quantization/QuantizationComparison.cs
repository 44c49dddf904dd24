using System.Diagnostics;
using FunctionApp.Imaging;
using FunctionApp.Inference;

namespace FunctionApp.Quantization;

/// <summary>One labelled image to compare the two versions on: its file and, when known, its true label.</summary>
public sealed record ComparisonImage(string Path, string? Label);

/// <summary>
/// How the int8 version compares with the float one on the same images: how often their top-1 classes agree, each
/// one's accuracy against the labels, and each one's speed (images per second through the ML.NET pipeline, one image
/// per run, same runtime settings, measured in the same run).
/// </summary>
public sealed record ComparisonReport(int Images, int Unreadable, int Agreeing, int Labelled, int FloatCorrect, int QuantizedCorrect, double FloatImagesPerSecond, double QuantizedImagesPerSecond, int IntraOpThreads)
{
    public double Agreement => Images == 0 ? 0 : (double)Agreeing / Images;

    public double? FloatAccuracy => Labelled == 0 ? null : (double)FloatCorrect / Labelled;

    public double? QuantizedAccuracy => Labelled == 0 ? null : (double)QuantizedCorrect / Labelled;

    public double Speedup => FloatImagesPerSecond == 0 ? 0 : QuantizedImagesPerSecond / FloatImagesPerSecond;
}

/// <summary>Runs the float and int8 versions of a package side by side on the same preprocessed images.</summary>
public static class QuantizationComparison
{
    private const int Chunk = 16;

    public static ComparisonReport Compare(ModelPackage floatPackage, ModelPackage quantizedPackage, IReadOnlyList<ComparisonImage> images, OnnxRuntimeOptions runtime, ImagePreprocessor preprocessor, IProgress<int>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(floatPackage);
        ArgumentNullException.ThrowIfNull(quantizedPackage);
        ArgumentNullException.ThrowIfNull(images);
        ArgumentNullException.ThrowIfNull(runtime);
        ArgumentNullException.ThrowIfNull(preprocessor);
        var spec = floatPackage.Manifest.Preprocessing;
        using var floatPipeline = InferencePipeline.Create(floatPackage, runtime);
        using var quantizedPipeline = InferencePipeline.Create(quantizedPackage, runtime);
        using var floatEngine = floatPipeline.CreateEngine();
        using var quantizedEngine = quantizedPipeline.CreateEngine();
        var labels = floatPackage.Labels;

        // One run of each first: the first inference of a session pays for its allocations.
        var warm = new TensorInput { Pixels = new float[spec.TensorLength] };
        floatEngine.Predict(warm);
        quantizedEngine.Predict(warm);

        int compared = 0, unreadable = 0, agreeing = 0, labelled = 0, floatCorrect = 0, quantizedCorrect = 0, done = 0;
        long floatTicks = 0, quantizedTicks = 0;
        var output = new ScoresOutput();
        bool floatFirst = true;
        foreach (var chunk in images.Chunk(Chunk))
        {
            cancellationToken.ThrowIfCancellationRequested();
            var rows = new List<(TensorInput Row, string? Label)>(chunk.Length);
            foreach (var image in chunk)
            {
                try
                {
                    rows.Add((new TensorInput { Pixels = preprocessor.Preprocess(File.ReadAllBytes(image.Path), spec, out _) }, image.Label));
                }
                catch (ImageInputException)
                {
                    unreadable++;
                }
            }

            // Alternate which version runs first, so that neither always meets a warmer cache.
            var floatTop = new int[rows.Count];
            var quantizedTop = new int[rows.Count];
            if (floatFirst)
            {
                floatTicks += Run(floatEngine, rows, floatTop, output);
                quantizedTicks += Run(quantizedEngine, rows, quantizedTop, output);
            }
            else
            {
                quantizedTicks += Run(quantizedEngine, rows, quantizedTop, output);
                floatTicks += Run(floatEngine, rows, floatTop, output);
            }

            floatFirst = !floatFirst;
            for (int i = 0; i < rows.Count; i++)
            {
                compared++;
                if (floatTop[i] == quantizedTop[i])
                    agreeing++;
                if (rows[i].Label is { } label)
                {
                    labelled++;
                    if (labels[floatTop[i]] == label)
                        floatCorrect++;
                    if (labels[quantizedTop[i]] == label)
                        quantizedCorrect++;
                }
            }

            done += chunk.Length;
            progress?.Report(done);
        }

        double PerSecond(long ticks) => ticks == 0 ? 0 : compared / ((double)ticks / Stopwatch.Frequency);
        return new ComparisonReport(compared, unreadable, agreeing, labelled, floatCorrect, quantizedCorrect, PerSecond(floatTicks), PerSecond(quantizedTicks), runtime.EffectiveIntraOpThreads);
    }

    private static long Run(Microsoft.ML.PredictionEngine<TensorInput, ScoresOutput> engine, List<(TensorInput Row, string? Label)> rows, int[] top, ScoresOutput output)
    {
        long start = Stopwatch.GetTimestamp();
        for (int i = 0; i < rows.Count; i++)
        {
            engine.Predict(rows[i].Row, ref output);
            top[i] = ArgMax(output.Scores);
        }

        return Stopwatch.GetTimestamp() - start;
    }

    private static int ArgMax(float[] scores)
    {
        int best = 0;
        for (int i = 1; i < scores.Length; i++)
        {
            if (scores[i] > scores[best])
                best = i;
        }

        return best;
    }
}

using FunctionApp.Classification;
using FunctionApp.Cli;
using FunctionApp.Inference;
using FunctionApp.Tests.Support;
using Microsoft.Extensions.DependencyInjection;
using SkiaSharp;

namespace FunctionApp.Tests.Training;

/// <summary>
/// <c>train</c> end to end on a small folder: the tiny CNN's three colour features as the featurizer,
/// four made-up classes (two share a dominant colour channel so the head has to learn a real boundary).
/// </summary>
public class TransferLearningTrainerTests : IDisposable
{
    private readonly TempDirectory _temp = new();

    public void Dispose()
    {
        _temp.Dispose();
        GC.SuppressFinalize(this);
    }

    private static readonly (string Name, Func<int, SKColor> Colour)[] Classes =
    [
        ("amber", i => new SKColor(255, (byte)(150 + (i % 20)), 0)),
        ("crimson", i => new SKColor((byte)(200 + (i % 30)), 0, (byte)(20 + (i % 10)))),
        ("navy", i => new SKColor(0, 0, (byte)(100 + (i % 30)))),
        ("teal", i => new SKColor(0, (byte)(120 + (i % 30)), (byte)(120 + (i % 30)))),
    ];

    private string WriteDataset(string name, int perClass, int offset)
    {
        var root = _temp.Sub(name);
        foreach (var (label, colour) in Classes)
        {
            Directory.CreateDirectory(Path.Combine(root, label));
            for (int i = 0; i < perClass; i++)
                File.WriteAllBytes(Path.Combine(root, label, $"{i:D3}.png"), Images.Solid(8, 8, colour(i + offset)));
        }

        return root;
    }

    [Fact]
    public async Task Train_ColourFolders_WritesAPackageThatClassifiesUnseenImages()
    {
        var featurizer = TinyCnn.WritePackage(_temp.Sub("tiny"));
        var data = WriteDataset("train", perClass: 20, offset: 0);
        var output = _temp.Sub("trained");
        using var stdout = new StringWriter();
        using var stderr = new StringWriter();

        int exit = await CommandLineApp.RunAsync(["train", "--data", data, "--out", output, "--featurizer", featurizer, "--name", "colours", "--version", "3", "--holdout", "0.2"], stdout, stderr);

        Assert.True(exit == 0, stderr.ToString());
        Assert.Contains("Wrote model colours version 3", stdout.ToString());
        Assert.Matches(@"(?m)^train: featurizing: 80 of 80 images in \d+:\d\d \(", stderr.ToString()); // progress, on standard error
        foreach (var file in new[] { "model.json", "labels.txt", "head.zip", "tiny.onnx", "training.json" })
            Assert.True(File.Exists(Path.Combine(output, file)), file);
        Assert.Equal(["amber", "crimson", "navy", "teal"], File.ReadAllLines(Path.Combine(output, "labels.txt")));

        var manifest = ModelManifest.Parse(File.ReadAllText(Path.Combine(output, "model.json")));
        Assert.Equal(("colours", "3", ScoreKind.Probabilities, "head.zip"), (manifest.Name, manifest.Version, manifest.Scores, manifest.Head?.File));

        using var services = TestServices.Create();
        var classifier = services.GetRequiredService<ImageClassifier>();
        var entry = new ModelEntry("colours", "3", output);
        var unseen = WriteDataset("unseen", perClass: 3, offset: 7);
        foreach (var (label, _) in Classes)
        {
            foreach (var file in Directory.GetFiles(Path.Combine(unseen, label)))
            {
                var result = await classifier.ClassifyAsync(new NamedImage(file, await File.ReadAllBytesAsync(file)), entry, topK: 1);
                Assert.Equal(label, result.Images[0].Top![0].Label);
            }
        }
    }

    [Fact]
    public async Task Train_FolderWithOneClass_FailsWithAClearMessage()
    {
        var data = _temp.Sub("one");
        Directory.CreateDirectory(Path.Combine(data, "only"));
        using var stdout = new StringWriter();
        using var stderr = new StringWriter();

        int exit = await CommandLineApp.RunAsync(["train", "--data", data, "--out", _temp.Sub("x"), "--featurizer", TinyCnn.WritePackage(_temp.Sub("tiny"))], stdout, stderr);

        Assert.Equal(1, exit);
        Assert.Contains("needs at least two class subfolders", stderr.ToString());
    }
}

using FunctionApp.Classification;
using FunctionApp.Inference;
using FunctionApp.Models;
using FunctionApp.Tests.Support;
using FunctionApp.Training;
using Microsoft.Extensions.DependencyInjection;

namespace FunctionApp.Tests.Integration;

/// <summary>Shares one loaded default model across the tests that need it.</summary>
public sealed class DefaultModelFixture : IDisposable
{
    public ServiceProvider Services { get; } = TestServices.Create();

    public ImageClassifier Classifier => Services.GetRequiredService<ImageClassifier>();

    public ModelEntry Entry => Services.GetRequiredService<ModelCatalog>().Resolve();

    public void Dispose() => Services.Dispose();
}

/// <summary>
/// The bundled model (ResNet-18 from NuGet plus the committed ML.NET head) on real Fashion-MNIST test
/// images whose class is known: the first five of each class in the test split, never used in training.
/// </summary>
[Trait("Category", "EndToEnd")]
public class DefaultModelTests(DefaultModelFixture fixture) : IClassFixture<DefaultModelFixture>
{
    private static readonly LabelledImageFolder Fashion = LabelledImageFolder.Scan(Images.TestData("fashion"));

    [Fact]
    public void Catalog_FindsTheBundledModel()
    {
        var entry = fixture.Entry;

        Assert.Equal(("fashion-resnet18", "1"), (entry.Name, entry.Version));
        Assert.True(File.Exists(Path.Combine(entry.Directory, "resnet18.onnx")), "the build copies ResNet18.onnx from NuGet into the package");
    }

    [Fact]
    public async Task Classify_NoGarmentAndASneaker_OnlyTheFormerIsBelowTheBundledFloor()
    {
        var package = ModelPackage.Open(fixture.Entry.Directory);
        var halves = await fixture.Classifier.ClassifyAsync(new NamedImage("halves", Images.Halves(64, 64, SkiaSharp.SKColors.Red, SkiaSharp.SKColors.Blue)), fixture.Entry, topK: 1);
        var sneaker = Images.TestData("fashion", "sneaker", "t10k-00009.png");
        var shoe = await fixture.Classifier.ClassifyAsync(new NamedImage("sneaker", await File.ReadAllBytesAsync(sneaker)), fixture.Entry, topK: 1);

        Assert.Equal(0.6f, package.Manifest.MinScore);
        Assert.True(halves.Images[0].LowConfidence);
        Assert.True(halves.Images[0].Top![0].Score < 0.6f);
        Assert.Null(shoe.Images[0].LowConfidence);
    }

    [Theory]
    [InlineData("trouser")]
    [InlineData("bag")]
    [InlineData("sneaker")]
    [InlineData("ankle-boot")]
    [InlineData("sandal")]
    [InlineData("dress")]
    public async Task Classify_DistinctiveClasses_AreRecognised(string label)
    {
        var files = Directory.GetFiles(Images.TestData("fashion", label)).Order(StringComparer.Ordinal).ToList();
        int correct = 0;
        foreach (var file in files)
        {
            var result = await fixture.Classifier.ClassifyAsync(new NamedImage(file, await File.ReadAllBytesAsync(file)), fixture.Entry, topK: 3);
            if (result.Images[0].Top![0].Label == label)
                correct++;
        }

        // Classes the model separates well (above 90% on the full test set) must get at least 4 of 5.
        Assert.True(correct >= 4, $"{label}: {correct} of {files.Count} correct");
    }

    [Fact]
    public async Task Evaluate_AllFiftyTestImages_AccuracyAboveEightyPercent()
    {
        var report = await new ClassifierEvaluator(fixture.Classifier).EvaluateAsync(fixture.Entry, Fashion);

        Assert.Equal(50, report.Images);
        Assert.Equal(0, report.Unreadable);
        Assert.True(report.Accuracy >= 0.8, $"accuracy {report.Accuracy:P0}");
    }

    [Fact]
    public async Task ClassifyBatch_GivesTheSameAnswersAsSingleImages()
    {
        var images = Fashion.Images.Take(6).Select(i => new NamedImage(i.Path, File.ReadAllBytes(i.Path))).ToList();

        var batch = await fixture.Classifier.ClassifyBatchAsync(images, fixture.Entry, topK: 2);

        for (int i = 0; i < images.Count; i++)
        {
            var single = await fixture.Classifier.ClassifyAsync(images[i], fixture.Entry, topK: 2);
            Assert.Equal(single.Images[0].Top!.Select(t => t.Label), batch.Images[i].Top!.Select(t => t.Label));
            Assert.Equal(single.Images[0].Top![0].Score, batch.Images[i].Top![0].Score, 1e-4f);
        }
    }

    [Fact]
    public async Task Classify_ReportsTimingsAndProbabilities()
    {
        var file = Fashion.Images[0].Path;

        var result = await fixture.Classifier.ClassifyAsync(new NamedImage("x", await File.ReadAllBytesAsync(file)), fixture.Entry, topK: 10);

        var image = result.Images[0];
        Assert.Equal(10, image.Top!.Count);
        Assert.Equal(1f, image.Top.Sum(t => t.Score), 1e-3f);
        Assert.True(image.Timings!.InferenceMs > 0 && image.Timings.DecodeMs > 0);
    }
}

using FunctionApp.Classification;
using FunctionApp.Imaging;
using FunctionApp.Inference;
using FunctionApp.Tests.Support;
using Microsoft.Extensions.DependencyInjection;
using SkiaSharp;

namespace FunctionApp.Tests.Inference;

/// <summary>
/// A full ONNX classifier (no head) through the real services: the tiny CNN reads BGR, 0-255 pixels and
/// emits [N,3,1,1] (or [N,3]) logits. A pure red image gives logits [0, 0, 255/64] for blue, green, red.
/// </summary>
public class FullOnnxClassifierTests : IDisposable
{
    private static readonly float RedScore = MathF.Exp(255f / 64f) / (MathF.Exp(255f / 64f) + 2f);
    private readonly TempDirectory _temp = new();
    private readonly ServiceProvider _services = TestServices.Create(new Dictionary<string, string?> { ["OnnxRuntime:IntraOpThreads"] = "1" });

    public void Dispose()
    {
        _services.Dispose();
        _temp.Dispose();
        GC.SuppressFinalize(this);
    }

    private ModelEntry Entry(bool flatten = false, string channelOrder = "BGR", string pixelScale = "0-255")
    {
        var dir = TinyCnn.WritePackage(_temp.Sub($"tiny-{flatten}-{channelOrder}-{pixelScale}"), flatten, channelOrder, pixelScale);
        return new ModelEntry("tiny-cnn", "1", dir);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Classify_RedImage_IsRedWithTheExpectedProbability(bool flatten)
    {
        var classifier = _services.GetRequiredService<ImageClassifier>();

        var result = await classifier.ClassifyAsync(new NamedImage("red.png", Images.Solid(20, 20, SKColors.Red)), Entry(flatten), topK: 3);

        var top = Assert.Single(result.Images).Top!;
        Assert.Equal(("red", 2), (top[0].Label, top[0].Index));
        Assert.Equal(RedScore, top[0].Score, 1e-4f);
        Assert.Equal(1f, top.Sum(t => t.Score), 1e-4f);
        Assert.Equal(("tiny-cnn", "1"), (result.Model, result.Version));
    }

    [Fact]
    public async Task Classify_RgbManifestOnBgrModel_WouldPickTheWrongClass()
    {
        // The same weights read as RGB put red in channel 0, which the model calls blue: the channel order matters.
        var classifier = _services.GetRequiredService<ImageClassifier>();

        var result = await classifier.ClassifyAsync(new NamedImage(null, Images.Solid(8, 8, SKColors.Red)), Entry(channelOrder: "RGB"));

        Assert.Equal("blue", result.Images[0].Top![0].Label);
    }

    [Fact]
    public async Task Classify_UnitPixelScale_GivesFlatterScores()
    {
        // 0-1 scale: logits [0, 0, 1/64], so red only just leads.
        var classifier = _services.GetRequiredService<ImageClassifier>();

        var result = await classifier.ClassifyAsync(new NamedImage(null, Images.Solid(8, 8, SKColors.Red)), Entry(pixelScale: "0-1"));

        var expected = MathF.Exp(1f / 64f) / (MathF.Exp(1f / 64f) + 2f);
        Assert.Equal(expected, result.Images[0].Top![0].Score, 1e-4f);
    }

    [Fact]
    public async Task ClassifyBatch_MixedImages_MatchesSinglePredictionsAndReportsBadOnes()
    {
        var classifier = _services.GetRequiredService<ImageClassifier>();
        var entry = Entry();
        NamedImage[] images =
        [
            new("red", Images.Solid(8, 8, SKColors.Red)),
            new("broken", "not an image"u8.ToArray()),
            new("green", Images.Solid(8, 8, new SKColor(0, 255, 0))),
            new("blue", Images.Solid(30, 10, SKColors.Blue, SKEncodedImageFormat.Jpeg)),
        ];

        var batch = await classifier.ClassifyBatchAsync(images, entry, topK: 1);

        Assert.Equal(["red", null, "green", "blue"], batch.Images.Select(i => i.Top?[0].Label));
        Assert.Equal(FunctionApp.Imaging.ImageInputError.UnsupportedFormat, batch.Images[1].ErrorKind);
        foreach (var i in new[] { 0, 2, 3 })
        {
            var single = await classifier.ClassifyAsync(images[i], entry, topK: 1);
            Assert.Equal(single.Images[0].Top![0].Score, batch.Images[i].Top![0].Score, 1e-5f);
        }
    }

    [Fact]
    public async Task Classify_UndecodableImage_ThrowsImageInputError()
    {
        var classifier = _services.GetRequiredService<ImageClassifier>();

        var error = await Assert.ThrowsAsync<FunctionApp.Imaging.ImageInputException>(() =>
            classifier.ClassifyAsync(new NamedImage("x", new byte[] { 0xFF, 0xD8, 0xFF, 0x00, 0x01 }), Entry()));

        Assert.Equal(FunctionApp.Imaging.ImageInputError.Undecodable, error.Error);
    }

    [Fact]
    public async Task Classify_TopKBelowOne_IsRejected()
    {
        var classifier = _services.GetRequiredService<ImageClassifier>();

        await Assert.ThrowsAsync<InvalidInferenceRequestException>(() =>
            classifier.ClassifyAsync(new NamedImage(null, Images.Solid(8, 8, SKColors.Red)), Entry(), topK: 0));
    }

    /// <summary>Services over a models root holding the tiny CNN as a catalogued version.</summary>
    private (ServiceProvider Services, string Package) CataloguedModel()
    {
        var root = _temp.Sub("root");
        var package = TinyCnn.WritePackage(Path.Combine(root, "tiny-cnn", "1"));
        var services = TestServices.Create(new Dictionary<string, string?> { ["OnnxRuntime:IntraOpThreads"] = "1", ["Models:Root"] = root });
        return (services, package);
    }

    [Fact]
    public async Task Classify_WhileTheModelLoads_DecodesMeanwhileAndAnswersAsOnceLoaded()
    {
        var (services, _) = CataloguedModel();
        using var owned = services;
        var classifier = services.GetRequiredService<ImageClassifier>();
        var image = new NamedImage("red.png", Images.Solid(20, 20, SKColors.Red));

        var cold = await classifier.ClassifyAsync(image, "tiny-cnn", topK: 3);
        var warm = await classifier.ClassifyAsync(image, "tiny-cnn", topK: 3);

        Assert.Equal(("red", 2), (cold.Images[0].Top![0].Label, cold.Images[0].Top![0].Index));
        Assert.Equal(RedScore, cold.Images[0].Top![0].Score, 1e-4f);
        Assert.Equal(warm.Images[0].Top!.Select(t => (t.Label, t.Score)), cold.Images[0].Top!.Select(t => (t.Label, t.Score)));
    }

    [Fact]
    public async Task Classify_BadImageWhileTheModelLoads_IsTheImagesErrorAndTheLoadStillServesTheNext()
    {
        var (services, _) = CataloguedModel();
        using var owned = services;
        var classifier = services.GetRequiredService<ImageClassifier>();

        await Assert.ThrowsAsync<ImageInputException>(() => classifier.ClassifyAsync(new NamedImage("broken", "not an image"u8.ToArray()), "tiny-cnn"));
        var next = await classifier.ClassifyAsync(new NamedImage("red.png", Images.Solid(8, 8, SKColors.Red)), "tiny-cnn");

        Assert.Equal("red", next.Images[0].Top![0].Label);
    }

    [Fact]
    public async Task Classify_WhenTheLoadedPackageDecodesDifferentlyFromTheCatalogsCopy_TheLoadedSpecWins()
    {
        var (services, package) = CataloguedModel();
        using var owned = services;
        var classifier = services.GetRequiredService<ImageClassifier>();
        _ = services.GetRequiredService<FunctionApp.Models.ModelCatalog>().Snapshot; // the catalog reads the package as BGR

        // The same version's manifest now says RGB: the pool's load reads that, so the early BGR tensor is not used.
        var manifest = Path.Combine(package, "model.json");
        File.WriteAllText(manifest, File.ReadAllText(manifest).Replace("\"BGR\"", "\"RGB\"", StringComparison.Ordinal));
        var result = await classifier.ClassifyAsync(new NamedImage(null, Images.Solid(8, 8, SKColors.Red)), "tiny-cnn");

        Assert.Equal("blue", result.Images[0].Top![0].Label);
    }
}

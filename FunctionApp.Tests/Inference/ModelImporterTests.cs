using FunctionApp.Classification;
using FunctionApp.Imaging;
using FunctionApp.Inference;
using FunctionApp.Models;
using FunctionApp.Tests.Support;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using SkiaSharp;

namespace FunctionApp.Tests.Inference;

/// <summary>
/// <c>models import</c> on real ONNX graphs of every shape it reads: colour and grayscale, NCHW and NHWC, dynamic and
/// fixed batch, weights among the inputs, logits and softmax outputs. Each imported package then classifies real images.
/// </summary>
public class ModelImporterTests : IDisposable
{
    private static readonly OnnxRuntimeOptions Runtime = new() { IntraOpThreads = 1 };
    private readonly TempDirectory _temp = new();

    public void Dispose()
    {
        _temp.Dispose();
        GC.SuppressFinalize(this);
    }

    private string Root => _temp.Sub("models");

    private static ImagePreprocessor Preprocessor() => new(new ImageDecoder(Options.Create(new ImageLimitsOptions())));

    private ImportResult Import(string onnx, string name, Func<ImportRequest, ImportRequest>? change = null)
    {
        var request = new ImportRequest(onnx, name, Root) { LabelsPath = Path.Combine(Path.GetDirectoryName(onnx)!, "labels.txt") };
        return ModelImporter.Import(change?.Invoke(request) ?? request, Runtime, Preprocessor());
    }

    private async Task<string> TopLabelAsync(string model, byte[] image)
    {
        await using var services = TestServices.Create(new Dictionary<string, string?> { ["Models:Root"] = Root, ["OnnxRuntime:IntraOpThreads"] = "1" });
        var result = await services.GetRequiredService<ImageClassifier>().ClassifyAsync(new NamedImage("x", image), model, topK: 1);
        return result.Images[0].Top![0].Label;
    }

    private static string Guess(ImportResult result, string what) => Assert.Single(result.Guessed, f => f.What == what).Value;

    [Fact]
    public async Task Import_NchwColourModel_ReadsItsShapeAndClassifies()
    {
        var onnx = TinyCnn.WriteVariant(_temp.Sub("colour"));

        var result = Import(onnx, "colours", r => r with { Preset = "raw" });

        var spec = result.Manifest.Preprocessing;
        Assert.Equal(Path.Combine(Root, "colours", "1"), result.Directory);
        Assert.Equal((TensorLayout.Nchw, 3, 8, 8), (spec.Layout, spec.Channels, spec.Width, spec.Height));
        Assert.Equal((ChannelOrder.Rgb, PixelScale.Byte, ResizeMode.Stretch), (spec.ChannelOrder, spec.PixelScale, spec.Resize));
        Assert.Equal(("image", "logits"), (result.Manifest.InputTensor, result.Manifest.OutputTensor));
        Assert.Equal([-1L, 3], result.Manifest.OutputShape);
        Assert.Contains("batch dynamic", Assert.Single(result.FromGraph, f => f.What == "input").How, StringComparison.Ordinal);
        Assert.Equal("logits", Guess(result, "scores"));
        Assert.True(File.Exists(Path.Combine(result.Directory, "model.onnx")));
        Assert.DoesNotContain(Directory.GetDirectories(Root), d => Path.GetFileName(d).StartsWith('.'));
        Assert.Equal("red", await TopLabelAsync("colours", Images.Solid(20, 12, SKColors.Red)));
        Assert.Equal("blue", await TopLabelAsync("colours", Images.Solid(20, 12, SKColors.Blue)));
    }

    [Fact]
    public async Task Import_NhwcModelWithoutPreset_ReadsNhwcAndGuessesTheTensorflowPreset()
    {
        var onnx = TinyCnn.WriteVariant(_temp.Sub("nhwc"), nhwc: true, dynamicBatch: false);

        var result = Import(onnx, "nhwc");

        var spec = result.Manifest.Preprocessing;
        Assert.Equal((TensorLayout.Nhwc, 3), (spec.Layout, spec.Channels));
        Assert.Equal("tensorflow", Guess(result, "preset"));
        Assert.Equal([0.5f, 0.5f, 0.5f], spec.Mean);
        Assert.Equal((ResizeMode.CenterCrop, 9), (spec.Resize, spec.ShorterSide)); // 8 / 0.875, rounded
        Assert.Contains("batch fixed at 1", Assert.Single(result.FromGraph, f => f.What == "input").How, StringComparison.Ordinal);
        Assert.Equal([1L, 3], result.Manifest.OutputShape);
        Assert.Equal("green", await TopLabelAsync("nhwc", Images.Solid(16, 16, new SKColor(10, 250, 10))));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Import_GrayscaleModel_OneChannelThatTellsDarkFromLight(bool nhwc)
    {
        var onnx = TinyCnn.WriteVariant(_temp.Sub("gray"), channels: 1, nhwc: nhwc);

        var result = Import(onnx, "gray");

        var spec = result.Manifest.Preprocessing;
        Assert.Equal((nhwc ? TensorLayout.Nhwc : TensorLayout.Nchw, 1), (spec.Layout, spec.Channels));
        Assert.Equal("unit", Guess(result, "preset"));
        Assert.Equal([0f], spec.Mean);
        Assert.Equal(8, spec.TensorLength / 8);
        Assert.Equal("light", await TopLabelAsync("gray", Images.Solid(30, 30, SKColors.White)));
        Assert.Equal("dark", await TopLabelAsync("gray", Images.Solid(30, 30, new SKColor(20, 20, 90))));
    }

    [Fact]
    public void Import_SoftmaxOutput_IsDetectedAsProbabilities()
    {
        var onnx = TinyCnn.WriteVariant(_temp.Sub("softmax"), softmax: true);

        var result = Import(onnx, "soft", r => r with { Preset = "unit" });

        Assert.Equal(ScoreKind.Probabilities, result.Manifest.Scores);
        Assert.Equal("probabilities", result.Manifest.OutputTensor);
        Assert.StartsWith("on the probe image every output lies in 0..1 and they sum to 1.0000", Assert.Single(result.Guessed, f => f.What == "scores").How, StringComparison.Ordinal);
    }

    [Fact]
    public void Import_WeightsListedAmongInputs_TakesTheImageInputAndSaysWhatItLeftOut()
    {
        var onnx = TinyCnn.WriteVariant(_temp.Sub("old"), weightsAmongInputs: true, producer: "onnx-caffe2");

        var result = Import(onnx, "old");

        Assert.Equal("image", result.Manifest.InputTensor);
        Assert.Contains("2 weights listed among the graph inputs were left out", Assert.Single(result.FromGraph, f => f.What == "input").How, StringComparison.Ordinal);
        Assert.Equal("caffe", Guess(result, "preset"));
        Assert.Equal(ChannelOrder.Bgr, result.Manifest.Preprocessing.ChannelOrder);
    }

    [Fact]
    public void Import_OverridesEveryPresetField()
    {
        var onnx = TinyCnn.WriteVariant(_temp.Sub("o"));

        var result = Import(onnx, "o", r => r with
        {
            Preset = "torchvision",
            ChannelOrder = ChannelOrder.Bgr,
            PixelScale = PixelScale.Byte,
            Mean = [1f, 2f, 3f],
            Std = [4f],
            Resize = ResizeMode.CenterCrop,
            ShorterSide = 12,
            MinScore = 0.4f,
            Scores = ScoreKind.Probabilities,
        });

        var spec = result.Manifest.Preprocessing;
        Assert.Equal((ChannelOrder.Bgr, PixelScale.Byte, 12), (spec.ChannelOrder, spec.PixelScale, spec.ShorterSide));
        Assert.Equal([1f, 2f, 3f], spec.Mean);
        Assert.Equal([4f, 4f, 4f], spec.Std);
        Assert.Equal((0.4f, ScoreKind.Probabilities), (result.Manifest.MinScore, result.Manifest.Scores));
        Assert.DoesNotContain(result.Guessed, f => f.What is "preset" or "scores");
    }

    [Fact]
    public void Import_NoLabels_NamesClassesByIndex_AndTheNextVersionFollowsTheNewest()
    {
        var onnx = TinyCnn.WriteVariant(_temp.Sub("n"));
        Import(onnx, "n", r => r with { Version = "4" });

        var result = Import(onnx, "n", r => r with { LabelsPath = null });

        Assert.Equal("5", result.Manifest.Version);
        Assert.Equal(["0", "1", "2"], File.ReadAllLines(Path.Combine(result.Directory, "labels.txt")));
        Assert.Equal("5", Guess(result, "version"));
    }

    [Fact]
    public void Import_SynsetLabels_AreReadWithoutTheirIds()
    {
        var onnx = TinyCnn.WriteVariant(_temp.Sub("s"));
        var labels = _temp.Sub("synset.txt");
        File.WriteAllLines(labels, ["n04591713 red, crimson", "n03000134 green", "n02012849 crane"]);

        var result = Import(onnx, "s", r => r with { LabelsPath = labels });

        Assert.Equal(["red, crimson", "green", "crane"], ModelPackage.Open(result.Directory).Labels);
        Assert.Contains("synset lines", Assert.Single(result.FromGraph, f => f.What == "labels").How, StringComparison.Ordinal);
    }

    [Fact]
    public void Import_LabelCountUnlikeTheClasses_IsRefusedAndLeavesNothing()
    {
        var onnx = TinyCnn.WriteVariant(_temp.Sub("l"));
        var labels = _temp.Sub("two.txt");
        File.WriteAllLines(labels, ["a", "b"]);

        var error = Assert.Throws<ArgumentException>(() => Import(onnx, "l", r => r with { LabelsPath = labels }));

        Assert.Equal("two.txt has 2 labels, but the model's output has 3 classes.", error.Message);
        Assert.Empty(Directory.Exists(Root) ? Directory.GetFileSystemEntries(Root) : []);
    }

    [Fact]
    public void Import_ExistingVersion_IsRefused()
    {
        var onnx = TinyCnn.WriteVariant(_temp.Sub("e"));
        Import(onnx, "e");

        var error = Assert.Throws<ArgumentException>(() => Import(onnx, "e", r => r with { Version = "1" }));

        Assert.Contains("already exists; choose another --version", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Import_SizeUnlikeTheGraphs_IsRefused()
    {
        var onnx = TinyCnn.WriteVariant(_temp.Sub("z"));

        var error = Assert.Throws<ArgumentException>(() => Import(onnx, "z", r => r with { Width = 32, Height = 32 }));

        Assert.Equal("--size gives a width of 32, but the graph fixes it at 8.", error.Message);
    }

    [Theory]
    [InlineData("torchvision", ChannelOrder.Rgb, PixelScale.Unit, 0.485f, 0.229f, ResizeMode.CenterCrop)]
    [InlineData("caffe", ChannelOrder.Bgr, PixelScale.Byte, 103.939f, 1f, ResizeMode.CenterCrop)]
    [InlineData("tensorflow", ChannelOrder.Rgb, PixelScale.Unit, 0.5f, 0.5f, ResizeMode.CenterCrop)]
    [InlineData("unit", ChannelOrder.Rgb, PixelScale.Unit, 0f, 1f, ResizeMode.Stretch)]
    [InlineData("raw", ChannelOrder.Rgb, PixelScale.Byte, 0f, 1f, ResizeMode.Stretch)]
    public void Presets_SayWhatTheirFamilyExpects(string name, ChannelOrder order, PixelScale scale, float firstMean, float firstStd, ResizeMode resize)
    {
        var preset = PreprocessingPreset.Find(name);

        Assert.Equal((order, scale, firstMean, firstStd, resize), (preset.ChannelOrder, preset.PixelScale, preset.Mean[0], preset.Std[0], preset.Resize));
        Assert.Equal(name == "tensorflow" ? TensorLayout.Nhwc : TensorLayout.Nchw, preset.Layout);
    }

    [Fact]
    public void Presets_UnknownName_ListsTheKnownOnes()
    {
        var error = Assert.Throws<ArgumentException>(() => PreprocessingPreset.Find("keras"));

        Assert.Equal("There is no preset 'keras'; the presets are torchvision, caffe, tensorflow, unit, raw.", error.Message);
    }

    [Theory]
    [InlineData(new[] { 0.2f, 0.3f, 0.5f }, true)]
    [InlineData(new[] { 2.1f, -0.3f, 0.5f }, false)]
    [InlineData(new[] { 0.2f, 0.3f, 0.4f }, false)]
    public void LookLikeProbabilities_NeedsValuesInZeroToOneSummingToOne(float[] scores, bool expected)
    {
        Assert.Equal(expected, ModelImporter.LookLikeProbabilities(scores));
    }
}

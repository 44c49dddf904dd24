using FunctionApp.Imaging;
using FunctionApp.Inference;
using FunctionApp.Models;
using FunctionApp.Tests.Support;
using Microsoft.Extensions.Options;

namespace FunctionApp.Tests.Inference;

/// <summary><c>models validate</c>'s checks: every problem at once, with hints that name the graph's true inputs.</summary>
public class ModelPackageValidatorTests : IDisposable
{
    private static readonly OnnxRuntimeOptions Runtime = new() { IntraOpThreads = 1 };
    private readonly TempDirectory _temp = new();

    public void Dispose()
    {
        _temp.Dispose();
        GC.SuppressFinalize(this);
    }

    private static ImagePreprocessor Preprocessor() => new(new ImageDecoder(Options.Create(new ImageLimitsOptions())));

    /// <summary>A sound package of the old-style graph (its weights listed among its inputs) at root/old/1.</summary>
    private string OldStylePackage()
    {
        var onnx = TinyCnn.WriteVariant(_temp.Sub("export"), weightsAmongInputs: true);
        return ModelImporter.Import(new ImportRequest(onnx, "old", _temp.Sub("root")) { Preset = "raw", LabelsPath = Path.Combine(_temp.Sub("export"), "labels.txt") }, Runtime, Preprocessor()).Directory;
    }

    private static void Edit(string dir, string find, string replace)
    {
        var path = Path.Combine(dir, "model.json");
        var text = File.ReadAllText(path);
        Assert.Contains(find, text, StringComparison.Ordinal);
        File.WriteAllText(path, text.Replace(find, replace, StringComparison.Ordinal));
    }

    [Fact]
    public void Validate_SoundPackage_HasNoProblemAndRunsOneInference()
    {
        var report = ModelPackageValidator.Validate(OldStylePackage(), Runtime);

        Assert.True(report.IsValid, string.Join("; ", report.Problems));
        Assert.Equal(3, report.Scores!.Length);
        Assert.Equal(["image"], report.Signature!.Inputs.Select(i => i.Name));
    }

    [Fact]
    public void Validate_ThreeMistakes_ReportsEveryOneWithTheTrueInputs()
    {
        var dir = OldStylePackage();
        Edit(dir, "\"inputTensor\": \"image\"", "\"inputTensor\": \"weight\"");
        Edit(dir, "\"version\": \"1\"", "\"version\": \"3\"");
        File.WriteAllLines(Path.Combine(dir, "labels.txt"), ["red", "green"]);

        var report = ModelPackageValidator.Validate(dir, Runtime);

        Assert.Equal(3, report.Problems.Count);
        Assert.Contains(report.Problems, p => p.Contains("labels file has 2 labels but outputShape declares 3 classes", StringComparison.Ordinal));
        Assert.Contains(report.Problems, p => p.Contains("model.json says version '3' but the package's folder is '1'", StringComparison.Ordinal));
        var hint = Assert.Single(report.Problems, p => p.StartsWith("inputTensor", StringComparison.Ordinal));
        Assert.Equal("inputTensor 'weight' is a weight of the ONNX graph (listed among its inputs, as older exporters do), not an input; the graph's inputs: 'image' [?,3,8,8]", hint);
    }

    [Fact]
    public void Validate_UnknownOutput_NamesTheGraphsOutputs()
    {
        var dir = OldStylePackage();
        Edit(dir, "\"outputTensor\": \"logits\"", "\"outputTensor\": \"conv\"");

        var report = ModelPackageValidator.Validate(dir, Runtime);

        Assert.Equal(["outputTensor 'conv' is not an output of the ONNX graph; its outputs: 'logits' [?,3]"], report.Problems);
    }

    [Fact]
    public void OnnxSignature_WeightsAmongInputs_AreKeptApartFromTheTrueInputs()
    {
        var path = TinyCnn.WriteVariant(_temp.Sub("x"), weightsAmongInputs: true, producer: "onnx-caffe2");

        var signature = OnnxSignature.Read(path);

        Assert.Equal(["image"], signature.Inputs.Select(i => i.Name));
        Assert.Equal(["weight", "bias"], signature.WeightInputs);
        Assert.Equal("onnx-caffe2", signature.ProducerName);
    }
}

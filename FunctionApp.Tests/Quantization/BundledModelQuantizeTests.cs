using FunctionApp.Cli;
using FunctionApp.Tests.Support;
using Microsoft.ML.OnnxRuntime;
using Onnx;

namespace FunctionApp.Tests.Quantization;

/// <summary>The bundled ResNet-18 (opset 8, BatchNormalization after every convolution) quantized by <c>models quantize</c>, and what ONNX Runtime makes of it.</summary>
[Trait("Category", "EndToEnd")]
public sealed class BundledModelQuantizeTests : IDisposable
{
    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    [Fact]
    public async Task Quantize_BundledModel_RunsOnQLinearConvAndAgreesWithTheFloatVersion()
    {
        var root = _temp.Sub("models");
        var source = Path.Combine(root, "fashion-resnet18", "1");
        Directory.CreateDirectory(source);
        foreach (var file in Directory.EnumerateFiles(BundledPackage.Directory))
            File.Copy(file, Path.Combine(source, Path.GetFileName(file)));
        var fashion = Images.TestData("fashion");
        using var output = new StringWriter();
        using var error = new StringWriter();

        int exit = await CommandLineApp.RunAsync(["models", "quantize", source, "--images", fashion, "--calibration-images", "20", "--eval", fashion], output, error);

        var text = output.ToString();
        Assert.True(exit == 0, error.ToString() + text);
        Assert.Contains("folded 22 BatchNormalization", text, StringComparison.Ordinal);
        Assert.Contains("from opset 8 to 13", text, StringComparison.Ordinal);
        Assert.Contains("int8: 21 Conv, 1 MaxPool", text, StringComparison.Ordinal);
        Assert.Contains("gave no Add its own quantized output", text, StringComparison.Ordinal);
        Assert.Contains("rounded the weights of 21 convolutions", text, StringComparison.Ordinal);
        Assert.Contains("corrected 21 biases", text, StringComparison.Ordinal);
        Assert.Contains("on 50 images", text, StringComparison.Ordinal);

        // ONNX Runtime turns the pairs into integer kernels: no float convolution is left but the one that reads the image,
        // and the last residual sum, which the features are averaged from, stays float.
        var int8 = Path.Combine(root, "fashion-resnet18", "2", "resnet18.int8.onnx");
        var optimized = _temp.Sub("optimized.onnx");
        using (var options = new SessionOptions { GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_EXTENDED, OptimizedModelFilePath = optimized })
        using (new InferenceSession(int8, options))
        {
        }

        var ops = ModelProto.Parser.ParseFrom(File.ReadAllBytes(optimized)).Graph.Node.Select(n => n.OpType).ToList();
        Assert.Equal(21, ops.Count(o => o == "QLinearConv"));
        Assert.Equal(8, ops.Count(o => o == "QLinearAdd"));
        Assert.Equal(1, ops.Count(o => o == "Add"));
        Assert.True(new FileInfo(int8).Length < new FileInfo(Path.Combine(source, "resnet18.onnx")).Length / 3);
    }
}

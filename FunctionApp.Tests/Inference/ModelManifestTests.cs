using System.Text.Json;
using FunctionApp.Imaging;
using FunctionApp.Inference;

namespace FunctionApp.Tests.Inference;

public class ModelManifestTests
{
    private const string Valid = """
        {
          "name": "m", "version": "2",
          "onnxFile": "model.onnx", "inputTensor": "in", "outputTensor": "out",
          "outputShape": [1, 1000, 1, 1],
          "preprocessing": {
            "width": 224, "height": 200, "layout": "NHWC", "channelOrder": "BGR", "pixelScale": "0-255",
            "mean": [1, 2, 3], "std": [4, 5, 6], "resize": "center-crop", "shorterSide": 256
          },
          "scores": "probabilities",
          "head": { "file": "head.zip" },
          "labels": "classes.txt"
        }
        """;

    [Fact]
    public void Parse_FullManifest_ReadsEveryField()
    {
        var manifest = ModelManifest.Parse(Valid);

        Assert.Equal(("m", "2", "model.onnx", "in", "out"), (manifest.Name, manifest.Version, manifest.OnnxFile, manifest.InputTensor, manifest.OutputTensor));
        Assert.Equal([1L, 1000, 1, 1], manifest.OutputShape);
        Assert.Equal(1000, manifest.OnnxOutputWidth);
        var p = manifest.Preprocessing;
        Assert.Equal((224, 200, TensorLayout.Nhwc, ChannelOrder.Bgr, PixelScale.Byte, ResizeMode.CenterCrop, 256), (p.Width, p.Height, p.Layout, p.ChannelOrder, p.PixelScale, p.Resize, p.ResizeShorterSide));
        Assert.Equal([1f, 2, 3], p.Mean);
        Assert.Equal([4f, 5, 6], p.Std);
        Assert.Equal(ScoreKind.Probabilities, manifest.Scores);
        Assert.Equal("head.zip", manifest.Head?.File);
        Assert.Equal("classes.txt", manifest.Labels);
    }

    [Fact]
    public void Parse_Defaults_AreRgbUnitStretchLogits()
    {
        var manifest = ModelManifest.Parse("""
            { "name": "m", "version": "1", "onnxFile": "m.onnx", "inputTensor": "i", "outputTensor": "o",
              "outputShape": [-1, 10], "preprocessing": { "width": 32, "height": 32 } }
            """);

        Assert.Equal((TensorLayout.Nchw, ChannelOrder.Rgb, PixelScale.Unit, ResizeMode.Stretch), (manifest.Preprocessing.Layout, manifest.Preprocessing.ChannelOrder, manifest.Preprocessing.PixelScale, manifest.Preprocessing.Resize));
        Assert.Equal(3, manifest.Preprocessing.Channels);
        Assert.Equal([0f, 0f, 0f], manifest.Preprocessing.Mean);
        Assert.Equal([1f, 1f, 1f], manifest.Preprocessing.Std);
        Assert.Null(manifest.Preprocessing.ShorterSide);
        Assert.Null(manifest.MinScore);
        Assert.Equal(ScoreKind.Logits, manifest.Scores);
        Assert.Null(manifest.Head);
        Assert.Equal("labels.txt", manifest.Labels);
    }

    [Fact]
    public void ToJson_RoundTrips()
    {
        var manifest = ModelManifest.Parse(Valid);

        var again = ModelManifest.Parse(manifest.ToJson());

        Assert.Equal(manifest.ToJson(), again.ToJson());
        Assert.Contains("\"pixelScale\": \"0-255\"", manifest.ToJson());
        Assert.Contains("\"resize\": \"center-crop\"", manifest.ToJson());
    }

    [Theory]
    [InlineData("\"inputTensor\": \"in\",", "", "inputTensor")]
    [InlineData("\"channelOrder\": \"BGR\"", "\"channelOrder\": \"GBR\"", "channelOrder")]
    [InlineData("\"labels\": \"classes.txt\"", "\"labels\": \"classes.txt\", \"colour\": 1", "colour")]
    public void Parse_BadManifest_SaysWhatIsWrong(string find, string replace, string mentioned)
    {
        var error = Assert.ThrowsAny<JsonException>(() => ModelManifest.Parse(Valid.Replace(find, replace, StringComparison.Ordinal)));

        Assert.Contains(mentioned, error.Message, StringComparison.OrdinalIgnoreCase);
    }
}

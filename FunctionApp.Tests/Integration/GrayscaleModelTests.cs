using System.IO.Compression;
using System.Net.Http.Headers;
using System.Text.Json;
using System.Text;
using FunctionApp.Cli;
using FunctionApp.Tests.Support;
using SkiaSharp;

namespace FunctionApp.Tests.Integration;

/// <summary>
/// A single-channel model (input [N,1,8,8], as digit classifiers have; and its NHWC twin [N,8,8,1]) imported with
/// <c>models import</c> and used through every door: the command line, <c>/api/predict</c>, <c>/v2</c> with images and
/// with its one-channel tensor, a dropped blob and a batch job.
/// </summary>
[Trait("Category", "EndToEnd")]
public class GrayscaleModelTests : IDisposable
{
    private readonly TempDirectory _temp = new();

    public void Dispose()
    {
        _temp.Dispose();
        GC.SuppressFinalize(this);
    }

    private static async Task<(int Exit, string Output, string Error)> Cli(params string[] args)
    {
        using var output = new StringWriter();
        using var error = new StringWriter();
        int exit = await CommandLineApp.RunAsync(args, output, error);
        return (exit, output.ToString(), error.ToString());
    }

    /// <summary>A models root holding only the grayscale model, imported as a user would.</summary>
    private async Task<string> RootWithGrayModelAsync(bool nhwc)
    {
        var export = _temp.Sub(nhwc ? "export-nhwc" : "export");
        var onnx = TinyCnn.WriteVariant(export, channels: 1, nhwc: nhwc);
        var root = _temp.Sub(nhwc ? "models-nhwc" : "models");
        var (exit, output, error) = await Cli("models", "import", onnx, "--name", "gray", "--labels", Path.Combine(export, "labels.txt"), "--out", root);
        Assert.True(exit == 0, error);
        Assert.Contains($"\"layout\": \"{(nhwc ? "NHWC" : "NCHW")}\"", output, StringComparison.Ordinal);
        Assert.Contains("\"channels\": 1", output, StringComparison.Ordinal);
        return root;
    }

    private static byte[] White => Images.Solid(20, 20, SKColors.White);

    private static byte[] Dark => Images.Solid(20, 20, new SKColor(30, 10, 60), SKEncodedImageFormat.Jpeg);

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task CommandLine_Predict_TellsLightFromDark(bool nhwc)
    {
        var root = await RootWithGrayModelAsync(nhwc);
        var light = _temp.Sub("light.png");
        var dark = _temp.Sub("dark.jpg");
        await File.WriteAllBytesAsync(light, White);
        await File.WriteAllBytesAsync(dark, Dark);

        var (exit, output, error) = await Cli("predict", light, dark, "--model", Path.Combine(root, "gray", "1"), "--json", "--top", "1");

        Assert.True(exit == 0, error);
        var images = JsonDocument.Parse(output).RootElement.GetProperty("images");
        Assert.Equal(["light", "dark"], images.EnumerateArray().Select(i => i.GetProperty("top")[0].GetProperty("label").GetString()));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Http_PredictAndV2_WithImagesAndWithTheOneChannelTensor(bool nhwc)
    {
        var root = await RootWithGrayModelAsync(nhwc);

        // Models:Default is unset: the root's only model is the default.
        await using var server = await RunningServer.StartAsync(new Dictionary<string, string?> { ["Models:Root"] = root, ["OnnxRuntime:IntraOpThreads"] = "1" });
        using var content = new ByteArrayContent(White);
        content.Headers.ContentType = new MediaTypeHeaderValue("image/png");
        using var predict = await server.Client.PostAsync("/api/predict?top=1", content);
        var answer = JsonDocument.Parse(await predict.Content.ReadAsStringAsync()).RootElement;

        var bytes = $$$"""{"inputs":[{"name":"image","shape":[2],"datatype":"BYTES","data":["{{{Convert.ToBase64String(White)}}}","{{{Convert.ToBase64String(Dark)}}}"]}],"outputs":[{"name":"probabilities","parameters":{"classification":1}}]}""";
        using var v2Images = await server.Client.PostAsync("/v2/models/gray/infer", new StringContent(bytes, Encoding.UTF8, "application/json"));
        var fromImages = JsonDocument.Parse(await v2Images.Content.ReadAsStringAsync()).RootElement;

        // The preprocessed tensor itself: one channel of 0-1 pixels, dark (0.1) then light (0.9).
        string shape = nhwc ? "[2,8,8,1]" : "[2,1,8,8]";
        var values = string.Join(",", Enumerable.Repeat("0.1", 64).Concat(Enumerable.Repeat("0.9", 64)));
        var tensor = $$$"""{"inputs":[{"name":"image","shape":{{{shape}}},"datatype":"FP32","data":[{{{values}}}]}],"outputs":[{"name":"probabilities","parameters":{"classification":1}}]}""";
        using var v2Tensor = await server.Client.PostAsync("/v2/models/gray/infer", new StringContent(tensor, Encoding.UTF8, "application/json"));
        var fromTensor = JsonDocument.Parse(await v2Tensor.Content.ReadAsStringAsync()).RootElement;
        using var metadata = await server.Client.GetAsync("/v2/models/gray");
        var input = JsonDocument.Parse(await metadata.Content.ReadAsStringAsync()).RootElement.GetProperty("inputs")[0];

        predict.EnsureSuccessStatusCode();
        Assert.Equal(("gray", "light"), (answer.GetProperty("model").GetString(), answer.GetProperty("images")[0].GetProperty("top")[0].GetProperty("label").GetString()));
        Assert.True(v2Images.IsSuccessStatusCode, fromImages.ToString());
        Assert.Equal(["light", "dark"], fromImages.GetProperty("outputs")[0].GetProperty("data").EnumerateArray().Select(d => d.GetString()!.Split(':')[2]));
        Assert.True(v2Tensor.IsSuccessStatusCode, fromTensor.ToString());
        Assert.Equal(["dark", "light"], fromTensor.GetProperty("outputs")[0].GetProperty("data").EnumerateArray().Select(d => d.GetString()!.Split(':')[2]));
        Assert.Equal(nhwc ? [-1L, 8, 8, 1] : [-1L, 1, 8, 8], input.GetProperty("shape").EnumerateArray().Select(d => d.GetInt64()));
    }

    [Fact]
    public async Task BlobDropAndBatch_OneChannelModel_ClassifyThroughStorage()
    {
        var root = await RootWithGrayModelAsync(nhwc: false);
        await using var serve = await ServeOnEmptyAccount.StartAsync(s =>
        {
            s["Models:Root"] = root;
            s.Remove("Models:Default");
        });

        await serve.Storage.Images.GetBlobClient("night.jpg").UploadAsync(new BinaryData(Dark));
        using var buffer = new MemoryStream();
        using (var zip = new ZipArchive(buffer, ZipArchiveMode.Create, leaveOpen: true))
        {
            foreach (var (name, data) in new[] { ("a-light.png", White), ("b-dark.jpg", Dark), ("c-light.png", White) })
            {
                await using var entry = zip.CreateEntry(name).Open();
                await entry.WriteAsync(data);
            }
        }

        await serve.Storage.Batches.GetBlobClient("shades.zip").UploadAsync(new BinaryData(buffer.ToArray()));

        var dropped = await ServeOnEmptyAccount.WaitForJsonAsync(serve.Storage.Predictions, "night.jpg.json");
        await ServeOnEmptyAccount.WaitForJsonAsync(serve.Storage.BatchResults, "shades.zip/progress.json", j => j.GetProperty("state").GetString() == "finished");
        var summary = (await serve.Storage.BatchResults.GetBlobClient("shades.zip/summary.csv").DownloadContentAsync()).Value.Content.ToString();

        Assert.Equal(("ok", "gray", "dark"), (dropped.GetProperty("status").GetString(), dropped.GetProperty("model").GetString(), dropped.GetProperty("top")[0].GetProperty("label").GetString()));
        Assert.Equal(["light", "dark", "light"], summary.Split('\n', StringSplitOptions.RemoveEmptyEntries).Skip(1).Select(l => l.Split(',')[3]));
        Assert.Equal(["night.jpg"], await ServeOnEmptyAccount.NamesAsync(serve.Storage.Preprocessed));
    }
}

using System.Net.Http.Headers;
using System.Text.Json;
using System.Text.RegularExpressions;
using FunctionApp.Cli;
using FunctionApp.Inference;
using FunctionApp.Tests.Support;
using SkiaSharp;

namespace FunctionApp.Tests.Quantization;

/// <summary><c>models quantize</c> as a user runs it: a new version appears beside the float one, loads, is served, and the agreement it reports is what serving the two versions gives.</summary>
[Trait("Category", "EndToEnd")]
public sealed partial class ModelsQuantizeTests : IDisposable
{
    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    private static async Task<(int Exit, string Output, string Error)> Cli(params string[] args)
    {
        using var output = new StringWriter();
        using var error = new StringWriter();
        int exit = await CommandLineApp.RunAsync(args, output, error);
        return (exit, output.ToString(), error.ToString());
    }

    /// <summary>A picture tinted towards one colour, with random blobs so that no two are alike.</summary>
    private static byte[] Picture(Random random, SKColor tint) => Images.Draw(40, 30, canvas =>
    {
        canvas.Clear(tint);
        using var paint = new SKPaint { IsAntialias = true };
        for (int i = 0; i < 6; i++)
        {
            paint.Color = new SKColor((byte)random.Next(256), (byte)random.Next(256), (byte)random.Next(256), (byte)random.Next(60, 200));
            canvas.DrawCircle(random.Next(40), random.Next(30), random.Next(3, 12), paint);
        }
    });

    private (string Root, string Calibration, string Eval) Setup()
    {
        var root = _temp.Sub("models");
        SmallCnn.WritePackage(Path.Combine(root, "small-cnn", "1"));
        var random = new Random(17);
        var calibration = Directory.CreateDirectory(_temp.Sub("calibration")).FullName;
        for (int i = 0; i < 24; i++)
            File.WriteAllBytes(Path.Combine(calibration, $"c{i:D2}.png"), Picture(random, new SKColor((byte)random.Next(256), (byte)random.Next(256), (byte)random.Next(256))));
        var eval = _temp.Sub("eval");
        var tints = new Dictionary<string, SKColor> { ["blue"] = SKColors.Blue, ["green"] = SKColors.Green, ["red"] = SKColors.Red };
        foreach (var (label, tint) in tints)
        {
            Directory.CreateDirectory(Path.Combine(eval, label));
            for (int i = 0; i < 8; i++)
                File.WriteAllBytes(Path.Combine(eval, label, $"{label}-{i}.png"), Picture(random, tint));
        }

        return (root, calibration, eval);
    }

    [Fact]
    public async Task Quantize_SmallModel_NewVersionIsServedAndTheAgreementReportedIsWhatServingGives()
    {
        var (root, calibration, eval) = Setup();

        var (exit, output, error) = await Cli("models", "quantize", Path.Combine(root, "small-cnn", "1"), "--images", calibration, "--eval", eval);

        Assert.True(exit == 0, error + output);
        Assert.Contains("into version 2", output, StringComparison.Ordinal);
        Assert.Contains("folded 1 BatchNormalization", output, StringComparison.Ordinal);
        Assert.Contains("calibrated", output, StringComparison.Ordinal);
        Assert.Contains("gave no Add its own quantized output", output, StringComparison.Ordinal);
        Assert.Contains("rounded the weights of 1 convolution up or down", output, StringComparison.Ordinal);
        Assert.Matches(@"round weights: 1 of 1 layers in", error);
        Assert.Contains("corrected 1 bias for", output, StringComparison.Ordinal);
        Assert.Matches(@"speed  float [\d.]+ images/s, int8 [\d.]+ images/s: [\d.]+x", output);
        // The speed is explained where the CPU makes int8 take the exact, slower kernels.
        Assert.Equal(!FunctionApp.Inference.OnnxRuntimeOptions.CpuHasVnni.Value, output.Contains("This CPU has no VNNI", StringComparison.Ordinal));
        var package = ModelPackage.Open(Path.Combine(root, "small-cnn", "2"));
        Assert.Equal(("2", "small.int8.onnx"), (package.Version, package.Manifest.OnnxFile));
        Assert.Equal(SmallCnn.Labels, package.Labels);
        Assert.Empty(Directory.EnumerateDirectories(root, ".quantize-*"));
        var reported = Agreement().Match(output);
        Assert.True(reported.Success, output);

        // Serve both versions and ask each about every image: the agreement must be the one reported.
        await using var server = await RunningServer.StartAsync(new Dictionary<string, string?> { ["Models:Root"] = root, ["Models:Default"] = "small-cnn", ["OnnxRuntime:IntraOpThreads"] = "1" });
        int agreeing = 0, total = 0;
        foreach (var file in Directory.EnumerateFiles(eval, "*.png", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
        {
            var labels = new List<string>();
            foreach (var version in new[] { "1", "2" })
            {
                using var content = new ByteArrayContent(await File.ReadAllBytesAsync(file));
                content.Headers.ContentType = new MediaTypeHeaderValue("image/png");
                using var response = await server.Client.PostAsync($"/api/predict?model=small-cnn&version={version}&top=1", content);
                var body = await response.Content.ReadAsStringAsync();
                Assert.True(response.IsSuccessStatusCode, body);
                var answer = JsonDocument.Parse(body).RootElement;
                Assert.Equal(version, answer.GetProperty("version").GetString());
                labels.Add(answer.GetProperty("images")[0].GetProperty("top")[0].GetProperty("label").GetString()!);
            }

            total++;
            if (labels[0] == labels[1])
                agreeing++;
        }

        Assert.Equal(total, int.Parse(reported.Groups["of"].Value, System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal(agreeing, int.Parse(reported.Groups["agree"].Value, System.Globalization.CultureInfo.InvariantCulture));
    }

    [Fact]
    public async Task Quantize_WithoutEval_SaysItDidNotCompare_AndAnExplicitVersionIsUsed()
    {
        var (root, calibration, _) = Setup();

        var (exit, output, error) = await Cli("models", "quantize", Path.Combine(root, "small-cnn", "1"), "--images", calibration, "--version", "1-int8", "--calibration-images", "5", "--quantize-adds", "--no-bias-correction", "--no-weight-rounding");

        Assert.True(exit == 0, error + output);
        Assert.Matches(@"int8: [^\n]*1 Add", output);
        Assert.DoesNotContain("corrected", output, StringComparison.Ordinal);
        Assert.DoesNotContain("rounded the weights", output, StringComparison.Ordinal);
        Assert.Contains("Not compared", output, StringComparison.Ordinal);
        Assert.Contains("on 5 images", output, StringComparison.Ordinal);
        Assert.Equal("1-int8", ModelPackage.Open(Path.Combine(root, "small-cnn", "1-int8")).Version);
    }

    [Fact]
    public async Task Quantize_BadInput_PlainErrorsAndNothingWritten()
    {
        var (root, _, _) = Setup();
        var empty = Directory.CreateDirectory(_temp.Sub("empty")).FullName;
        var source = Path.Combine(root, "small-cnn", "1");

        var noImages = await Cli("models", "quantize", source, "--images", empty);
        var missing = await Cli("models", "quantize", source, "--images", _temp.Sub("nowhere"));
        var notImages = Directory.CreateDirectory(_temp.Sub("text")).FullName;
        File.WriteAllText(Path.Combine(notImages, "a.png"), "not a picture");
        var unreadable = await Cli("models", "quantize", source, "--images", notImages);
        var usage = await Cli("models", "quantize", source);

        Assert.Equal(1, noImages.Exit);
        Assert.Contains("holds no images", noImages.Error, StringComparison.Ordinal);
        Assert.Equal(1, missing.Exit);
        Assert.Contains("does not exist", missing.Error, StringComparison.Ordinal);
        Assert.Equal(1, unreadable.Exit);
        Assert.Contains("could be read", unreadable.Error, StringComparison.Ordinal);
        Assert.Equal(2, usage.Exit);
        Assert.Contains("--images", usage.Error, StringComparison.Ordinal);
        foreach (var error in new[] { noImages.Error, missing.Error, unreadable.Error, usage.Error })
            Assert.DoesNotContain("   at ", error, StringComparison.Ordinal);
        Assert.Equal(["1"], Directory.EnumerateDirectories(Path.Combine(root, "small-cnn")).Select(Path.GetFileName));
        Assert.Empty(Directory.EnumerateDirectories(root, ".quantize-*"));
    }

    [GeneratedRegex(@"top-1 agreement [\d.]+ ?% \((?<agree>\d+) of (?<of>\d+)\)")]
    private static partial Regex Agreement();
}

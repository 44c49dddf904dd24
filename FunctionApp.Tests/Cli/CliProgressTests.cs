using System.Buffers.Binary;
using System.IO.Compression;
using FunctionApp.Cli;
using FunctionApp.Tests.Support;

namespace FunctionApp.Tests.Cli;

/// <summary>
/// Progress on long commands: a bar redrawn in place on a terminal, plain lines when standard error is redirected
/// (as it is for these in-process runs), always on standard error so standard output keeps only the answer.
/// </summary>
public class CliProgressTests : IDisposable
{
    private readonly TempDirectory _temp = new();

    public void Dispose()
    {
        _temp.Dispose();
        GC.SuppressFinalize(this);
    }

    private static async Task<(int Exit, string Output, string Error)> Run(params string[] args)
    {
        using var output = new StringWriter();
        using var error = new StringWriter();
        int exit = await CommandLineApp.RunAsync(args, output, error);
        return (exit, output.ToString(), error.ToString());
    }

    [Fact]
    public void BarLine_ShowsTheBarTheCountTheRateAndTheTimeLeft()
    {
        var line = CliProgress.BarLine("evaluate", 412, 1000, "images", TimeSpan.FromSeconds(7.88));

        Assert.Equal("evaluate [##########--------------] 412/1,000 images  52.3/s  0:11 left", line);
    }

    [Fact]
    public void PlainLine_SaysTheSameInWords()
    {
        var line = CliProgress.PlainLine("train: featurizing", 6000, 20000, "images", TimeSpan.FromMinutes(2));

        Assert.Equal("train: featurizing: 6,000 of 20,000 images (30 %), 50.0/s, 4:40 left", line);
    }

    [Fact]
    public void Terminal_RedrawsOneLineInPlaceAndEndsIt()
    {
        using var error = new StringWriter();
        using (var progress = new CliProgress(error, "slice", 4, "steps", terminal: true))
        {
            progress.Report(1);
            progress.Report(4);
            progress.Complete();
        }

        // Reports within a tenth of a second of the last drawing are not drawn; the end always is.
        var text = error.ToString();
        Assert.StartsWith("\rslice [########################] 4/4 steps", text, StringComparison.Ordinal);
        Assert.EndsWith(Environment.NewLine, text, StringComparison.Ordinal);
        Assert.Single(text.Split(Environment.NewLine, StringSplitOptions.RemoveEmptyEntries));
    }

    [Fact]
    public void Redirected_WritesPlainLinesThenAClosingOne()
    {
        using var error = new StringWriter();
        var progress = new CliProgress(error, "predict", 3, "images", terminal: false, plainInterval: TimeSpan.Zero);

        progress.Report(1);
        progress.Report(2);
        progress.Report(3);
        progress.Complete();

        var lines = error.ToString().Split(Environment.NewLine, StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(4, lines.Length);
        Assert.StartsWith("predict: 1 of 3 images (33 %), ", lines[0], StringComparison.Ordinal);
        Assert.DoesNotContain("\r", error.ToString(), StringComparison.Ordinal);
        Assert.StartsWith("predict: 3 of 3 images in 0:00 (", lines[3], StringComparison.Ordinal);
    }

    [Fact]
    public async Task Evaluate_FiftyImages_ReportsProgressOnStandardErrorOnly()
    {
        var (exit, output, error) = await Run("evaluate", "--data", Images.TestData("fashion"));

        Assert.True(exit == 0, error);
        Assert.Matches(@"(?m)^evaluate: 50 of 50 images in \d+:\d\d \(\d+\.\d/s\)", error);
        Assert.DoesNotContain("evaluate:", output, StringComparison.Ordinal);
        Assert.Contains("top-1 accuracy", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Predict_MoreImagesThanOneBatch_ReportsProgress_AndOneBatchDoesNot()
    {
        var files = Enumerable.Range(0, 33).Select(i =>
        {
            var path = _temp.Sub($"{i:D2}.png");
            File.WriteAllBytes(path, Images.Solid(8, 8, SkiaSharp.SKColors.Red));
            return path;
        }).ToArray();
        var model = TinyCnn.WritePackage(_temp.Sub("tiny"));

        var many = await Run(["predict", "--model", model, "--top", "1", .. files]);
        var few = await Run(["predict", "--model", model, "--top", "1", .. files[..32]]);

        Assert.True(many.Exit == 0, many.Error);
        Assert.Contains("predict: 33 of 33 images in ", many.Error, StringComparison.Ordinal);
        Assert.Equal(string.Empty, few.Error);
    }

    [Fact]
    public async Task ImportFashionMnist_ReportsProgress()
    {
        // Three 2x2 images in the IDX format Fashion-MNIST ships in.
        var source = _temp.Sub("idx");
        Directory.CreateDirectory(source);
        WriteIdx(Path.Combine(source, "t10k-images-idx3-ubyte.gz"), 2051, [3, 2, 2], [.. Enumerable.Range(0, 12).Select(i => (byte)(i * 20))]);
        WriteIdx(Path.Combine(source, "t10k-labels-idx1-ubyte.gz"), 2049, [3], [0, 7, 9]);

        var (exit, output, error) = await Run("import-fashion-mnist", "--source", source, "--split", "t10k", "--out", _temp.Sub("out"));

        Assert.True(exit == 0, error);
        Assert.Contains("Wrote 3 images", output, StringComparison.Ordinal);
        Assert.Contains("import-fashion-mnist: 3 of 3 images in ", error, StringComparison.Ordinal);
        Assert.True(File.Exists(Path.Combine(_temp.Sub("out"), "sneaker", "t10k-00001.png")));
    }

    private static void WriteIdx(string path, int magic, int[] dims, byte[] data)
    {
        var header = new byte[4 + (4 * dims.Length)];
        BinaryPrimitives.WriteInt32BigEndian(header, magic);
        for (int i = 0; i < dims.Length; i++)
            BinaryPrimitives.WriteInt32BigEndian(header.AsSpan(4 + (4 * i)), dims[i]);
        using var file = File.Create(path);
        using var gzip = new GZipStream(file, CompressionLevel.Fastest);
        gzip.Write(header);
        gzip.Write(data);
    }
}

using FunctionApp.Cli;
using FunctionApp.Tests.Support;

namespace FunctionApp.Tests.Cli;

/// <summary>
/// The command line as its own process, where ONNX Runtime's native messages and the host's console lines would land
/// on the real standard error: a one-shot command prints its answer, its progress and, with --verbose, the app's own
/// log lines, and nothing else.
/// </summary>
[Trait("Category", "EndToEnd")]
public class CommandLineProcessTests : IDisposable
{
    private readonly TempDirectory _temp = new();

    public void Dispose()
    {
        _temp.Dispose();
        GC.SuppressFinalize(this);
    }

    /// <summary>A package of the old-style graph, whose weights are listed among its inputs: ONNX Runtime warns about each.</summary>
    private async Task<string> OldStylePackageAsync()
    {
        var onnx = TinyCnn.WriteVariant(_temp.Sub("export"), weightsAmongInputs: true);
        using var output = new StringWriter();
        using var error = new StringWriter();
        int exit = await CommandLineApp.RunAsync(["models", "import", onnx, "--name", "old", "--preset", "raw", "--out", _temp.Sub("models")], output, error);
        Assert.True(exit == 0, error.ToString());
        return Path.Combine(_temp.Sub("models"), "old", "1");
    }

    [Fact]
    public async Task Slice_OldStyleGraph_KeepsOnnxRuntimeWarningsForVerbose()
    {
        var package = await OldStylePackageAsync();

        var quiet = await AppProcess.RunAsync(["slice", "--model", package, "--slices", "2", "--out", _temp.Sub("quiet")]);
        var verbose = await AppProcess.RunAsync(["slice", "--model", package, "--slices", "2", "--out", _temp.Sub("verbose"), "--verbose"]);

        Assert.True(quiet.ExitCode == 0, quiet.ToString());
        Assert.True(verbose.ExitCode == 0, verbose.ToString());
        Assert.DoesNotContain("appears in graph inputs", quiet.Error, StringComparison.Ordinal);
        Assert.Contains("appears in graph inputs", verbose.Error, StringComparison.Ordinal);
        Assert.Contains("slice: 4 of 4 steps in ", quiet.Error, StringComparison.Ordinal);
        Assert.Contains("Wrote 2 slices of old version 1", quiet.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Verbose_OneShotVerb_LogsTheAppsLinesWithoutTheHostsLifetimeLines()
    {
        var package = await OldStylePackageAsync();
        var image = _temp.Sub("red.png");
        await File.WriteAllBytesAsync(image, Images.Solid(8, 8, SkiaSharp.SKColors.Red));

        var result = await AppProcess.RunAsync(["predict", image, "--model", package, "--verbose"]);

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Contains("Loaded model old version 1", result.Error, StringComparison.Ordinal);
        Assert.DoesNotContain("Application started", result.Error, StringComparison.Ordinal);
        Assert.DoesNotContain("Press Ctrl+C", result.Error + result.Output, StringComparison.Ordinal);
        Assert.DoesNotContain("Content root path", result.Error + result.Output, StringComparison.Ordinal);
    }
}

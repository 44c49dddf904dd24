using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using FunctionApp.Capacity;
using FunctionApp.Cli;
using FunctionApp.Tests.Support;

namespace FunctionApp.Tests.Capacity;

public class AdviseCommandTests
{
    private static async Task<(int Exit, string Output, string Error)> Run(params string[] args)
    {
        using var output = new StringWriter();
        using var error = new StringWriter();
        int exit = await CommandLineApp.RunAsync(args, output, error);
        return (exit, output.ToString(), error.ToString());
    }

    [Theory]
    [InlineData("--p95-ms must be above 0.", "advise", "--p95-ms", "0")]
    [InlineData("Unrecognized command or argument '--nope'", "advise", "--nope")]
    public async Task Advise_BadCommandLine_IsAUsageError(string problem, params string[] args)
    {
        var (exit, output, error) = await Run(args);

        Assert.Equal(2, exit);
        Assert.Empty(output);
        Assert.Contains(problem, error, StringComparison.Ordinal);
        Assert.Contains("Usage:", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Advise_UnknownModel_SaysSoWithoutAStackTrace()
    {
        using var temp = new TempDirectory();

        var (exit, output, error) = await Run("advise", "--model", "no-such-model", "--quick", "--out", temp.Sub("out"));

        Assert.Equal(1, exit);
        Assert.Empty(output);
        Assert.StartsWith("error: ", error, StringComparison.Ordinal);
        Assert.Contains("no-such-model", error, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", error, StringComparison.Ordinal);
        Assert.False(Directory.Exists(temp.Sub("out")));
    }
}

/// <summary>
/// <c>advise --quick</c> on the bundled model, as its own process (it confines itself to one core at times, which
/// must not slow the other tests): the report's files, its plots, recommendations that follow from its own
/// measurements, a self-check whose error is what it says, and costs that the price table reproduces.
/// </summary>
[Trait("Category", "EndToEnd")]
public class AdviseQuickEndToEndTests : IDisposable
{
    private const double Target = 1000;
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web) { NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.AllowNamedFloatingPointLiterals };
    private readonly TempDirectory _temp = new();

    public void Dispose()
    {
        _temp.Dispose();
        GC.SuppressFinalize(this);
    }

    [Fact]
    public async Task AdviseQuick_BundledModel_WritesAConsistentReport()
    {
        var outDir = _temp.Sub("report");
        var result = await AppProcess.RunAsync(["advise", "--model", "fashion-resnet18", "--p95-ms", "1000", "--quick", "--out", outDir], timeoutSeconds: 300);
        Assert.True(result.ExitCode == 0, result.ToString());

        // The files, and the plots inside the self-contained HTML.
        var html = await File.ReadAllTextAsync(Path.Combine(outDir, AdvisorReportWriter.HtmlFile));
        var png = await File.ReadAllBytesAsync(Path.Combine(outDir, AdvisorReportWriter.PngFile));
        Assert.Equal(4, Regex.Count(html, "<img alt=\"[^\"]+\" src=\"data:image/png;base64,[A-Za-z0-9+/=]{1000,}\">"));
        Assert.Equal(new byte[] { 0x89, 0x50, 0x4E, 0x47 }, png.Take(4));
        Assert.True(png.Length > 10_000, $"The main plot is only {png.Length} bytes.");
        Assert.True(File.Exists(Path.Combine(outDir, AdvisorReportWriter.MarkdownFile)));
        Assert.DoesNotContain("   at ", result.Error, StringComparison.Ordinal);

        var report = JsonSerializer.Deserialize<AdvisorReport>(await File.ReadAllTextAsync(Path.Combine(outDir, AdvisorReportWriter.JsonFile)), Json)!;
        var m = report.Measurements;
        Assert.Equal("fashion-resnet18", m.Model);
        Assert.True(report.Quick);
        Assert.Equal(Target, report.TargetP95Ms);

        // Real measurements: every concurrency 1, 2, 4, 8 on one core, stage times that add up, memory for several pools.
        Assert.Equal([1, 2, 4, 8], m.Latency.Where(p => p.Cores == 1).Select(p => p.Concurrency));
        Assert.All(m.Latency, p => Assert.True(p.P50Ms <= p.P95Ms && p.P95Ms <= p.P99Ms && p.ImagesPerSecond > 0, p.ToString()));
        Assert.True(m.Stages.InferenceMs > 0 && m.Stages.DecodeMs > 0 && m.Stages.PreprocessMs > 0);
        Assert.True(m.ColdStart.FirstRequestMs >= m.ColdStart.LoadMs && m.ColdStart.LoadMs > 0);
        Assert.True(m.Memory.Count >= 3 && m.Memory.All(p => p.WorkingSetMb > 0));

        // The recommendations are what the model, rebuilt from the measurements alone, recommends.
        var model = new CapacityModel(m);
        var plan = FlexPlan.Load(FlexPlan.DefaultPath);
        Assert.Equal(plan.PricesAsOf, report.Plan.PricesAsOf);
        Assert.Equal(plan.InstanceSizes.Count, report.Recommendations.Count);
        foreach (var rec in report.Recommendations)
        {
            var again = model.Recommend(rec.Size, Target, plan);
            Assert.Equal(again.Concurrency, rec.Concurrency);
            Assert.Equal(again.Engines, rec.Engines);
            Assert.Equal(again.SlicingNeeded, rec.SlicingNeeded);
            if (rec.Concurrency is int c)
            {
                Assert.True(rec.Predicted!.P95Ms <= Target);
                Assert.True(c == CapacityModel.MaxConcurrency || model.Predict(rec.Size, c + 1) is var next && (next.P95Ms > Target || !next.FitsInMemory));

                // The printed cost is the price table's formula applied to the predicted throughput.
                double expected = 1e6 * (rec.Size.MemoryMb / 1024.0) / rec.Predicted.ImagesPerSecond * plan.Prices.OnDemandPerGbSecond + plan.Prices.OnDemandPerMillionExecutions;
                Assert.Equal(expected, rec.Cost!.OnDemandPerMillion, 9);
                string printed = expected.ToString("0.00", CultureInfo.InvariantCulture);
                Assert.Contains($"{rec.Size.MemoryMb} MB ({rec.Size.CpuCores.ToString("0.##", CultureInfo.InvariantCulture)} core): concurrency {c}", result.Output, StringComparison.Ordinal);
                Assert.Contains($"{printed} USD per million on demand", result.Output, StringComparison.Ordinal);
                Assert.Contains($"<td>{printed}</td>", html, StringComparison.Ordinal);
            }
            else
            {
                Assert.True(rec.Summary.Contains("no setting meets the target", StringComparison.Ordinal) || rec.SlicingNeeded
                    || rec.Summary.Contains("pick a larger size", StringComparison.Ordinal), rec.Summary);
                Assert.Equal(rec.SlicingNeeded, !model.Predict(rec.Size, 1).FitsInMemory && model.MemoryMb(0) <= rec.Size.MemoryMb);
                Assert.Contains(rec.Summary, result.Output, StringComparison.Ordinal);
            }
        }

        // The self-check: a measured run for every recommended size this machine can reproduce, with its error as stated.
        foreach (var rec in report.Recommendations.Where(r => r.Concurrency is not null && CapacityAdvisor.Checkable(r.Size, m.MachineCores) is null))
        {
            var check = Assert.Single(report.Verifications, v => v.Size.MemoryMb == rec.Size.MemoryMb);
            Assert.Equal(rec.Concurrency, check.Concurrency);
            Assert.Equal(rec.Engines, check.Engines);
            Assert.Equal(rec.Predicted!.P95Ms, check.PredictedP95Ms, 9);
            Assert.True(check.MeasuredP95Ms > 0 && check.Requests > 0);
            Assert.Equal(100 * (check.PredictedP95Ms - check.MeasuredP95Ms) / check.MeasuredP95Ms, check.ErrorPercent, 9);
            Assert.Equal(check.MeasuredP95Ms <= Target, check.MeetsTargetMeasured);
            Assert.Contains($"check {rec.Size.MemoryMb} MB at concurrency {check.Concurrency}: predicted p95 {check.PredictedP95Ms.ToString("0", CultureInfo.InvariantCulture)} ms, measured {check.MeasuredP95Ms.ToString("0", CultureInfo.InvariantCulture)} ms", result.Output, StringComparison.Ordinal);
        }

        Assert.Equal(report.Recommendations.Count, report.Verifications.Count + report.NotVerified.Count);
        Assert.Contains(plan.PricesAsOf, html, StringComparison.Ordinal);
        Assert.Contains(plan.PriceSources[0].Url, html, StringComparison.Ordinal);
    }
}

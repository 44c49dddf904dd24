using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using ScottPlot;

namespace FunctionApp.Capacity;

/// <summary>The files an advice run leaves in its output folder.</summary>
public sealed record AdvisorFiles(string Html, string Png, string Json, string Markdown);

/// <summary>
/// Writes the advice: a self-contained HTML report (plots embedded as PNG data), the main plot as a PNG file, the
/// whole report as JSON and a short Markdown summary.
/// </summary>
public static class AdvisorReportWriter
{
    public const string HtmlFile = "capacity-report.html";
    public const string PngFile = "latency-vs-concurrency.png";
    public const string JsonFile = "capacity-report.json";
    public const string MarkdownFile = "capacity-summary.md";

    private const int Width = 760;
    private const int Height = 440;

    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        WriteIndented = true,
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };

    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    public static async Task<AdvisorFiles> WriteAsync(AdvisorReport report, string folder, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(report);
        Directory.CreateDirectory(folder);
        var files = new AdvisorFiles(Path.Combine(folder, HtmlFile), Path.Combine(folder, PngFile), Path.Combine(folder, JsonFile), Path.Combine(folder, MarkdownFile));

        var latency = LatencyPlot(report);
        var plots = new (string Title, byte[] Png)[]
        {
            ("p95 latency against concurrency", latency.GetImageBytes(Width, Height, ImageFormat.Png)),
            ("Throughput against concurrency", ThroughputPlot(report).GetImageBytes(Width, Height, ImageFormat.Png)),
            ("Memory against engines", MemoryPlot(report).GetImageBytes(Width, Height, ImageFormat.Png)),
            ("Cost per million images against the p95 target", CostPlot(report).GetImageBytes(Width, Height, ImageFormat.Png)),
        };
        await File.WriteAllBytesAsync(files.Png, plots[0].Png, cancellationToken);
        await File.WriteAllTextAsync(files.Html, Html(report, plots), cancellationToken);
        await File.WriteAllTextAsync(files.Json, JsonSerializer.Serialize(report, Json), cancellationToken);
        await File.WriteAllTextAsync(files.Markdown, Markdown(report), cancellationToken);
        return files;
    }

    private static Plot NewPlot(string title, string x, string y)
    {
        var plot = new Plot();
        if (PlotFont.File is not null)
            plot.Font.Set(PlotFont.Name);
        plot.Title(title);
        plot.XLabel(x);
        plot.YLabel(y);
        return plot;
    }

    private static double[] Concurrencies(AdvisorReport report)
    {
        int max = Math.Max(8, report.Recommendations.Max(r => r.Concurrency ?? 1));
        return Enumerable.Range(1, Math.Min(max, CapacityModel.MaxConcurrency)).Select(c => (double)c).ToArray();
    }

    private static Plot LatencyPlot(AdvisorReport report)
    {
        var plot = NewPlot($"{report.Measurements.Model}: p95 latency against concurrency", "concurrent requests per instance", "p95 latency (ms)");
        AddAgainstConcurrency(plot, report, p => p.P95Ms, p => p.P95Ms, size => $"{size.MemoryMb} MB ({Num(size.CpuCores)} core) predicted");

        foreach (var v in report.Verifications)
        {
            var check = plot.Add.Scatter(new[] { (double)v.Concurrency }, new[] { v.MeasuredP95Ms });
            check.LegendText = $"check run, {v.Size.MemoryMb} MB";
            check.MarkerShape = MarkerShape.OpenDiamond;
            check.MarkerSize = 14;
            check.LineWidth = 0;
        }

        var target = plot.Add.HorizontalLine(report.TargetP95Ms);
        target.LegendText = $"target {Num(report.TargetP95Ms)} ms";
        target.LinePattern = LinePattern.Dotted;
        plot.ShowLegend(Alignment.UpperLeft);
        return plot;
    }

    /// <summary>Each instance size's predicted curve (dashed) and the measured points per core count, against concurrency.</summary>
    private static void AddAgainstConcurrency(Plot plot, AdvisorReport report, Func<Prediction, double> predicted, Func<LatencyPoint, double> measured, Func<InstanceSize, string> legend)
    {
        var model = Model(report);
        var xs = Concurrencies(report);
        foreach (var size in report.Plan.InstanceSizes)
        {
            var line = plot.Add.ScatterLine(xs, xs.Select(c => predicted(model.Predict(size, (int)c))).ToArray());
            line.LegendText = legend(size);
            line.LinePattern = LinePattern.Dashed;
        }

        foreach (var group in report.Measurements.Latency.GroupBy(p => p.Cores))
        {
            var points = plot.Add.Scatter(group.Select(p => (double)p.Concurrency).ToArray(), group.Select(measured).ToArray());
            points.LegendText = $"measured, {group.Key} core(s)";
            points.MarkerSize = 8;
        }
    }

    private static Plot ThroughputPlot(AdvisorReport report)
    {
        var plot = NewPlot("Throughput against concurrency", "concurrent requests per instance", "images per second per instance");
        AddAgainstConcurrency(plot, report, p => p.ImagesPerSecond, p => p.ImagesPerSecond, size => $"{size.MemoryMb} MB predicted");

        plot.ShowLegend(Alignment.LowerRight);
        return plot;
    }

    private static Plot MemoryPlot(AdvisorReport report)
    {
        var plot = NewPlot("Process memory against engines", "engines in the pool", "working set (MB)");
        var memory = report.Measurements.Memory;
        var measured = plot.Add.Scatter(memory.Select(m => (double)m.Engines).ToArray(), memory.Select(m => m.WorkingSetMb).ToArray());
        measured.LegendText = "measured working set";
        measured.MarkerSize = 8;
        var peak = plot.Add.Scatter(memory.Select(m => (double)m.Engines).ToArray(), memory.Select(m => m.PeakWorkingSetMb).ToArray());
        peak.LegendText = "peak during the run";
        peak.MarkerSize = 6;
        peak.LinePattern = LinePattern.Dotted;
        double maxEngines = Math.Max(8, memory.Max(m => m.Engines));
        var fit = plot.Add.ScatterLine(new[] { 1.0, maxEngines }, new[] { report.ModelMemoryBaseMb + report.ModelMemoryPerEngineMb, report.ModelMemoryBaseMb + report.ModelMemoryPerEngineMb * maxEngines });
        fit.LegendText = "model (straight line)";
        fit.LinePattern = LinePattern.Dashed;
        foreach (var size in report.Plan.InstanceSizes)
        {
            var limit = plot.Add.HorizontalLine(size.MemoryMb);
            limit.LegendText = $"{size.MemoryMb} MB instance";
            limit.LinePattern = LinePattern.Dotted;
        }

        plot.Axes.SetLimitsY(0, report.Plan.InstanceSizes.Max(s => s.MemoryMb) * 1.05);
        plot.ShowLegend(Alignment.UpperLeft);
        return plot;
    }

    private static Plot CostPlot(AdvisorReport report)
    {
        var plot = NewPlot($"On-demand cost per million images ({report.Plan.Currency}, prices of {report.Plan.PricesAsOf})", "p95 target (ms)", $"{report.Plan.Currency} per million images");
        foreach (var group in report.CostCurve.Where(p => p.OnDemandPerMillion is not null).GroupBy(p => p.MemoryMb))
        {
            var line = plot.Add.Scatter(group.Select(p => p.TargetP95Ms).ToArray(), group.Select(p => p.OnDemandPerMillion!.Value).ToArray());
            line.LegendText = $"{group.Key} MB";
            line.MarkerSize = 5;
        }

        var target = plot.Add.VerticalLine(report.TargetP95Ms);
        target.LegendText = $"target {Num(report.TargetP95Ms)} ms";
        target.LinePattern = LinePattern.Dotted;
        plot.Axes.SetLimitsY(0, Math.Max(1, report.CostCurve.Max(p => p.OnDemandPerMillion ?? 0) * 1.1));
        plot.ShowLegend(Alignment.UpperRight);
        return plot;
    }

    /// <summary>The model, rebuilt from the report's measurements (it is a pure function of them).</summary>
    private static CapacityModel Model(AdvisorReport report) => new(report.Measurements);

    private static string Num(double value, string format = "0.##") => value.ToString(format, Inv);

    private static string E(string text) => WebUtility.HtmlEncode(text);

    private static string Html(AdvisorReport r, IReadOnlyList<(string Title, byte[] Png)> plots)
    {
        var m = r.Measurements;
        var s = new StringBuilder();
        s.Append("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Capacity and cost advice: ").Append(E(m.Model)).Append("</title>\n");
        s.Append("<style>body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}table{border-collapse:collapse;margin:1em 0}")
            .Append("td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}th{background:#f3f3f3}td:first-child,th:first-child{text-align:left}")
            .Append("code{background:#f6f6f6;padding:1px 4px}.formula{font-family:monospace;font-size:90%;white-space:pre-wrap}img{max-width:100%}</style></head><body>\n");
        s.Append("<h1>Capacity and cost advice for ").Append(E(m.Model)).Append(" version ").Append(E(m.Version)).Append("</h1>\n");
        s.Append("<p>p95 target <b>").Append(Num(r.TargetP95Ms)).Append(" ms</b>. Measured on this machine (")
            .Append(m.MachineCores).Append(" cores") .Append(m.CoresLimited ? ", process confined to 1 or more cores per run" : ", cores could not be confined")
            .Append(") on ").Append(E(m.ImagesUsed)).Append(", ").Append(r.Quick ? "quick (coarse) run" : "full run").Append(" of ").Append(Num(r.ElapsedSeconds, "0")).Append(" s, ")
            .Append(E(r.CreatedAt.ToString("yyyy-MM-dd HH:mm 'UTC'", Inv))).Append(". Command: <code>").Append(E(r.Command)).Append("</code></p>\n");

        s.Append("<h2>Recommendation per instance size</h2>\n<table><tr><th>Instance memory</th><th>CPU cores</th><th>HTTP concurrency</th><th>Engines</th><th>Predicted p95 (ms)</th><th>Images/s per instance</th><th>Memory at that pool (MB)</th><th>Slicing needed</th><th>")
            .Append(E(r.Plan.Currency)).Append(" per million, on demand</th><th>").Append(E(r.Plan.Currency)).Append(" per million with ").Append(r.Plan.Assumptions.AlwaysReadyInstances).Append(" always ready</th></tr>\n");
        foreach (var rec in r.Recommendations)
        {
            s.Append("<tr><td>").Append(rec.Size.MemoryMb).Append(" MB</td><td>").Append(Num(rec.Size.CpuCores)).Append("</td>");
            if (rec.Predicted is { } p)
            {
                s.Append("<td>").Append(rec.Concurrency).Append("</td><td>").Append(rec.Engines).Append("</td><td>").Append(Num(p.P95Ms, "0")).Append("</td><td>").Append(Num(p.ImagesPerSecond, "0.0"))
                    .Append("</td><td>").Append(Num(p.MemoryMb, "0")).Append("</td><td>").Append(rec.SlicingNeeded ? "yes" : "no").Append("</td><td>").Append(Num(rec.Cost!.OnDemandPerMillion, "0.00"))
                    .Append("</td><td>").Append(Num(rec.Cost.WithAlwaysReadyPerMillion, "0.00")).Append("</td></tr>\n");
            }
            else
            {
                s.Append("<td colspan=\"8\" style=\"text-align:left\">").Append(E(rec.Summary)).Append("</td></tr>\n");
            }
        }

        s.Append("</table>\n<h3>How each cost was worked out</h3>\n<p>Cost per million images = instance memory (GB) x seconds the instance is busy per image (1 / images per second) x 1,000,000 x price per GB-s, plus the price per million executions. With always ready instances, their baseline is spread over the monthly volume and the images they have time for are billed at the always-ready execution rate. Free grants are left out.</p>\n");
        foreach (var rec in r.Recommendations.Where(x => x.Cost is not null))
        {
            s.Append("<p><b>").Append(rec.Size.MemoryMb).Append(" MB</b><br><span class=\"formula\">on demand: ").Append(E(rec.Cost!.OnDemandFormula)).Append("\nwith always ready: ").Append(E(rec.Cost.AlwaysReadyFormula)).Append("</span></p>\n");
        }

        s.Append("<h2>Self-check: predicted against measured</h2>\n");
        if (r.Verifications.Count > 0)
        {
            s.Append("<table><tr><th>Instance memory</th><th>Cores</th><th>Concurrency</th><th>Engines</th><th>Predicted p95 (ms)</th><th>Measured p95 (ms)</th><th>Error</th><th>Requests</th><th>Measured within target</th></tr>\n");
            foreach (var v in r.Verifications)
            {
                s.Append("<tr><td>").Append(v.Size.MemoryMb).Append(" MB</td><td>").Append(v.Cores).Append("</td><td>").Append(v.Concurrency).Append("</td><td>").Append(v.Engines).Append("</td><td>")
                    .Append(Num(v.PredictedP95Ms, "0")).Append("</td><td>").Append(Num(v.MeasuredP95Ms, "0")).Append("</td><td>").Append(Num(v.ErrorPercent, "+0;-0")).Append(" %</td><td>")
                    .Append(v.Requests).Append("</td><td>").Append(v.MeetsTargetMeasured ? "yes" : "no").Append("</td></tr>\n");
            }

            s.Append("</table><p>Error = (predicted - measured) / measured; positive means the model is cautious.</p>\n");
        }

        foreach (var u in r.NotVerified)
            s.Append("<p>").Append(u.Size.MemoryMb).Append(" MB not checked: ").Append(E(u.Reason)).Append(".</p>\n");

        s.Append("<h2>Plots</h2>\n");
        if (PlotFont.File is null)
            s.Append("<p>No font file was found on this machine, so the plots carry no text; install a TrueType font (for example the fonts-dejavu-core package) for labelled plots.</p>\n");
        foreach (var (title, png) in plots)
            s.Append("<h3>").Append(E(title)).Append("</h3>\n<img alt=\"").Append(E(title)).Append("\" src=\"data:image/png;base64,").Append(Convert.ToBase64String(png)).Append("\">\n");

        s.Append("<h2>What was measured</h2>\n<table><tr><th>Stage (one core, one at a time)</th><th>ms per image</th></tr>\n")
            .Append("<tr><td>decode</td><td>").Append(Num(m.Stages.DecodeMs, "0.0")).Append("</td></tr><tr><td>preprocess</td><td>").Append(Num(m.Stages.PreprocessMs, "0.0"))
            .Append("</td></tr><tr><td>inference</td><td>").Append(Num(m.Stages.InferenceMs, "0.0")).Append("</td></tr><tr><td>process CPU time per image (all threads)</td><td>").Append(Num(m.Stages.CpuMsPerImage, "0.0"))
            .Append("</td></tr></table>\n<p>Cold start: model load ").Append(Num(m.ColdStart.LoadMs, "0")).Append(" ms, first prediction ").Append(Num(m.ColdStart.FirstPredictionMs, "0"))
            .Append(" ms, first request in all ").Append(Num(m.ColdStart.FirstRequestMs, "0")).Append(" ms.</p>\n");
        s.Append("<table><tr><th>Cores</th><th>Concurrency</th><th>Engines</th><th>Requests</th><th>Mean (ms)</th><th>p50 (ms)</th><th>p95 (ms)</th><th>p99 (ms)</th><th>Images/s</th></tr>\n");
        foreach (var p in m.Latency)
        {
            s.Append("<tr><td>").Append(p.Cores).Append("</td><td>").Append(p.Concurrency).Append("</td><td>").Append(p.Engines).Append("</td><td>").Append(p.Requests).Append("</td><td>")
                .Append(Num(p.MeanMs, "0")).Append("</td><td>").Append(Num(p.P50Ms, "0")).Append("</td><td>").Append(Num(p.P95Ms, "0")).Append("</td><td>").Append(Num(p.P99Ms, "0")).Append("</td><td>").Append(Num(p.ImagesPerSecond, "0.0")).Append("</td></tr>\n");
        }

        s.Append("</table>\n<table><tr><th>Engines</th><th>Working set (MB)</th><th>Peak (MB)</th></tr>\n");
        foreach (var p in m.Memory)
            s.Append("<tr><td>").Append(p.Engines).Append("</td><td>").Append(Num(p.WorkingSetMb, "0")).Append("</td><td>").Append(Num(p.PeakWorkingSetMb, "0")).Append("</td></tr>\n");
        s.Append("</table>\n");

        s.Append("<h2>The model</h2>\n<p>A request alone takes L = ").Append(Num(r.ModelAloneMs, "0.0")).Append(" ms on one core; a saturated core serves an image every D = ").Append(Num(r.ModelServiceMs, "0.0"))
            .Append(" ms (its best measured throughput); p95 is t = ").Append(Num(r.ModelTailFactor, "0.00"))
            .Append(" times the mean (the median over the measured runs). An instance with a CPU share of v cores running c requests at once on min(c, ceil(v)) engines answers on average in R(c) = max(L / min(v, 1), c x D / (v x e)), where e is the parallel efficiency measured with that many cores (")
            .Append(E(string.Join(", ", r.ModelEfficiency.Select(kv => $"{kv.Key} core(s): {kv.Value.ToString("0.00", Inv)}")))).Append("); p95 = t x R(c); throughput = c / R(c). Memory with n engines = ")
            .Append(Num(r.ModelMemoryBaseMb, "0")).Append(" MB + n x ").Append(Num(r.ModelMemoryPerEngineMb, "0.0")).Append(" MB. The recommended concurrency is the highest (up to ").Append(CapacityModel.MaxConcurrency)
            .Append(") whose predicted p95 is within the target and whose engines fit in the instance's memory; slicing is needed when even one engine does not fit.</p>\n");

        s.Append("<h2>Prices and instance sizes used</h2>\n<p>").Append(E(r.Plan.Plan)).Append(", ").Append(E(r.Plan.Currency)).Append(", prices as of <b>").Append(E(r.Plan.PricesAsOf)).Append("</b> (").Append(E(r.Plan.Region)).Append(").</p>\n<table><tr><th>Price</th><th>Value</th></tr>\n");
        var pr = r.Plan.Prices;
        foreach (var (name, value) in new[] { ("on demand, per GB-s", pr.OnDemandPerGbSecond), ("on demand, per million executions", pr.OnDemandPerMillionExecutions), ("always ready baseline, per GB-s", pr.AlwaysReadyBaselinePerGbSecond), ("always ready execution, per GB-s", pr.AlwaysReadyExecutionPerGbSecond), ("always ready, per million executions", pr.AlwaysReadyPerMillionExecutions), ("free grant, GB-s per month (not applied)", pr.FreeGrantGbSecondsPerMonth), ("free grant, executions per month (not applied)", pr.FreeGrantExecutionsPerMonth) })
            s.Append("<tr><td>").Append(E(name)).Append("</td><td>").Append(value.ToString("0.#########", Inv)).Append("</td></tr>\n");
        s.Append("</table>\n<ul>\n");
        foreach (var src in r.Plan.PriceSources.Append(r.Plan.InstanceSizesSource))
            s.Append("<li><a href=\"").Append(E(src.Url)).Append("\">").Append(E(src.Url)).Append("</a>: ").Append(E(src.Read)).Append("</li>\n");
        s.Append("</ul>\n<p>Instance sizes: ").Append(E(string.Join(", ", r.Plan.InstanceSizes.Select(z => $"{z.MemoryMb} MB = {z.CpuCores.ToString("0.##", Inv)} core(s)")))).Append(". Assumed volume ")
            .Append(r.Plan.Assumptions.MonthlyImages.ToString("N0", Inv)).Append(" images a month, ").Append(r.Plan.Assumptions.AlwaysReadyInstances).Append(" always ready instance(s).</p>\n");
        s.Append("<h2>How to read this</h2>\n<p>Set the instance memory size and the per-instance HTTP concurrency (<code>perInstanceConcurrency</code> of the HTTP trigger) to a row of the first table, and the engine pool to its engines (<code>EnginePool__MaxEngines</code>). ")
            .Append("The dashed lines are the model, the dots measurements on this machine with the process confined to that many cores; the diamonds are the check runs. A size whose CPU share is a fraction of a core is modelled from the one-core measurements, not measured. ")
            .Append("Costs assume steady load; a burst that leaves instances idle between requests is billed at least 1,000 ms per activity period.</p>\n</body></html>\n");
        return s.ToString();
    }

    private static string Markdown(AdvisorReport r)
    {
        var s = new StringBuilder();
        var m = r.Measurements;
        s.Append("# Capacity and cost advice: ").Append(m.Model).Append(" version ").Append(m.Version).Append("\n\n");
        s.Append("p95 target ").Append(Num(r.TargetP95Ms)).Append(" ms; ").Append(r.Quick ? "quick run" : "full run").Append(" on ").Append(m.MachineCores).Append(" cores; prices of ").Append(r.Plan.PricesAsOf).Append(" (").Append(r.Plan.Currency).Append(").\n\n");
        s.Append("| Instance | Cores | Concurrency | Engines | Predicted p95 ms | Images/s | Slicing | Per million, on demand | Per million, with always ready |\n|---|---|---|---|---|---|---|---|---|\n");
        foreach (var rec in r.Recommendations)
        {
            s.Append("| ").Append(rec.Size.MemoryMb).Append(" MB | ").Append(Num(rec.Size.CpuCores)).Append(" | ");
            if (rec.Predicted is { } p)
            {
                s.Append(rec.Concurrency).Append(" | ").Append(rec.Engines).Append(" | ").Append(Num(p.P95Ms, "0")).Append(" | ").Append(Num(p.ImagesPerSecond, "0.0")).Append(" | ").Append(rec.SlicingNeeded ? "yes" : "no")
                    .Append(" | ").Append(Num(rec.Cost!.OnDemandPerMillion, "0.00")).Append(" | ").Append(Num(rec.Cost.WithAlwaysReadyPerMillion, "0.00")).Append(" |\n");
            }
            else
            {
                s.Append(rec.Summary).Append(" | | | | | | |\n");
            }
        }

        s.Append('\n');
        foreach (var v in r.Verifications)
        {
            s.Append("Check, ").Append(v.Size.MemoryMb).Append(" MB at concurrency ").Append(v.Concurrency).Append(": predicted p95 ").Append(Num(v.PredictedP95Ms, "0")).Append(" ms, measured ")
                .Append(Num(v.MeasuredP95Ms, "0")).Append(" ms, error ").Append(Num(v.ErrorPercent, "+0;-0")).Append(" %.\n");
        }

        foreach (var u in r.NotVerified)
            s.Append("Not checked, ").Append(u.Size.MemoryMb).Append(" MB: ").Append(u.Reason).Append(".\n");
        return s.ToString();
    }
}

using System.CommandLine;
using System.Globalization;
using FunctionApp.Capacity;
using FunctionApp.Classification;
using FunctionApp.Models;
using FunctionApp.Inference;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace FunctionApp.Cli;

/// <summary>
/// <c>advise [--model NAME] [--p95-ms T] [--images DIR] [--out DIR] [--quick] [--prices FILE]</c>: measures a model on
/// this machine and recommends, for each Flex Consumption instance size, the HTTP concurrency and engine pool that keep
/// p95 within the target, whether slicing is needed and the cost per million images.
/// </summary>
internal static class AdviseCommand
{
    private const int MaxImages = 64;
    private const int SyntheticImages = 16;

    public static Command Create()
    {
        var model = new Option<string?>("--model", "-m") { Description = "A model's name in the catalog, or a model package folder; defaults to the default model." };
        var target = new Option<double>("--p95-ms") { Description = "The p95 latency target per request, in milliseconds.", DefaultValueFactory = _ => 500 };
        var images = new Option<DirectoryInfo?>("--images") { Description = "Images to measure with (the folder and its subfolders); defaults to photo-like JPEGs of the model's input size." };
        var output = new Option<DirectoryInfo>("--out", "-o") { Description = "Folder for the report.", DefaultValueFactory = _ => new DirectoryInfo("capacity-report") };
        var quick = new Option<bool>("--quick") { Description = "Coarser measurements that finish in under two minutes." };
        var prices = new Option<FileInfo?>("--prices") { Description = "A price table in the format of the one shipped (Capacity/flex-consumption.json)." };
        target.Validators.Add(r =>
        {
            if (!(r.GetValueOrDefault<double>() > 0))
                r.AddError("--p95-ms must be above 0.");
        });

        var command = new Command("advise", "Measure a model on this machine and recommend instance size, concurrency, engines and cost per million images for a p95 target.")
        {
            model, target, images, output, quick, prices,
        };
        command.SetAction((parse, ct) => CommandLineApp.RunGuardedAsync(parse, async stdout =>
        {
            var plan = FlexPlan.Load(parse.GetValue(prices)?.FullName ?? FlexPlan.DefaultPath);
            string? modelName = parse.GetValue(model);
            bool verbose = parse.GetValue(CommandLineApp.VerboseOption);

            // The model's input size, for made-up images, and a clear error for a wrong name before anything is measured.
            IReadOnlyList<byte[]> probeImages;
            string imagesUsed;
            await using (var first = ServingStack.Create(modelName, new ServingSetting(1, 1), verbose))
            {
                var package = await first.Classifier.GetPackageAsync(first.Model, ct);
                var folder = parse.GetValue(images);
                if (folder is not null)
                {
                    probeImages = ProbeImages.FromFolder(folder.FullName, MaxImages);
                    imagesUsed = $"{probeImages.Count} images from {folder.FullName}";
                }
                else
                {
                    var spec = package.Manifest.Preprocessing;
                    probeImages = ProbeImages.Synthetic(SyntheticImages, spec.Width, spec.Height);
                    imagesUsed = $"{probeImages.Count} made-up {spec.Width}x{spec.Height} JPEGs";
                }
            }

            var probe = new CapacityProbe(setting => ServingStack.Create(modelName, setting, verbose), probeImages);
            var advisor = new CapacityAdvisor(probe, plan);
            double p95 = parse.GetValue(target);
            string commandLine = string.Join(' ', parse.Tokens.Select(t => t.Value));
            AdvisorReport report;
            using (var progress = CliProgress.Start(parse, "advise", 1, "steps"))
            {
                report = await advisor.AdviseAsync(p95, parse.GetValue(quick), commandLine, imagesUsed, progress, ct);
                progress.Complete();
            }

            var files = await AdvisorReportWriter.WriteAsync(report, parse.GetValue(output)!.FullName, ct);
            await WriteSummaryAsync(stdout, report, files);
            return 0;
        }));
        return command;
    }

    private static async Task WriteSummaryAsync(TextWriter output, AdvisorReport report, AdvisorFiles files)
    {
        var inv = CultureInfo.InvariantCulture;
        var m = report.Measurements;
        await output.WriteLineAsync(string.Create(inv, $"Model {m.Model} version {m.Version}, p95 target {report.TargetP95Ms:0.##} ms, measured on {m.MachineCores} cores in {report.ElapsedSeconds:0} s"));
        await output.WriteLineAsync(string.Create(inv, $"  per image on one core: decode {m.Stages.DecodeMs:0.0} ms, preprocess {m.Stages.PreprocessMs:0.0} ms, inference {m.Stages.InferenceMs:0.0} ms; cold start {m.ColdStart.FirstRequestMs:0} ms"));
        foreach (var rec in report.Recommendations)
        {
            var size = string.Create(inv, $"{rec.Size.MemoryMb,5} MB ({rec.Size.CpuCores:0.##} core)");
            if (rec.Predicted is { } p)
            {
                await output.WriteLineAsync(string.Create(inv,
                    $"  {size}: concurrency {rec.Concurrency}, {rec.Engines} engine(s), predicted p95 {p.P95Ms:0} ms, {p.ImagesPerSecond:0.0} images/s, slicing {(rec.SlicingNeeded ? "needed" : "not needed")}, {rec.Cost!.OnDemandPerMillion:0.00} {report.Plan.Currency} per million on demand ({rec.Cost.WithAlwaysReadyPerMillion:0.00} with {report.Plan.Assumptions.AlwaysReadyInstances} always ready)"));
            }
            else
            {
                await output.WriteLineAsync($"  {size}: {rec.Summary}");
            }
        }

        foreach (var v in report.Verifications)
            await output.WriteLineAsync(string.Create(inv, $"  check {v.Size.MemoryMb} MB at concurrency {v.Concurrency}: predicted p95 {v.PredictedP95Ms:0} ms, measured {v.MeasuredP95Ms:0} ms, error {v.ErrorPercent:+0;-0} %"));
        foreach (var u in report.NotVerified)
            await output.WriteLineAsync($"  not checked {u.Size.MemoryMb} MB: {u.Reason}");
        await output.WriteLineAsync($"Prices of {report.Plan.PricesAsOf} from {report.Plan.PriceSources[0].Url}");
        await output.WriteLineAsync($"Report: {files.Html}");
        await output.WriteLineAsync($"Plot: {files.Png}");
        await output.WriteLineAsync($"Summary: {files.Markdown} and {files.Json}");
    }

    /// <summary>The app's inference services with one serving setting, on a host of their own.</summary>
    private sealed class ServingStack : IServingStack
    {
        private readonly IHost _host;

        private ServingStack(IHost host, ModelEntry model)
        {
            _host = host;
            Model = model;
            Classifier = host.Services.GetRequiredService<ImageClassifier>();
        }

        public ImageClassifier Classifier { get; }

        public ModelEntry Model { get; }

        public static ServingStack Create(string? model, ServingSetting setting, bool verbose)
        {
            var builder = CommandLineApp.CreateHostBuilder(verbose);
            builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
            {
                [$"{OnnxRuntimeOptions.SectionName}:{nameof(OnnxRuntimeOptions.IntraOpThreads)}"] = setting.IntraOpThreads.ToString(CultureInfo.InvariantCulture),
                [$"{EnginePoolOptions.SectionName}:{nameof(EnginePoolOptions.MaxEngines)}"] = setting.MaxEngines.ToString(CultureInfo.InvariantCulture),
                // The queueing model is calibrated on runs of the setting's threads; a lone-run session would give a
                // request that runs alone more of them.
                [$"{OnnxRuntimeOptions.SectionName}:{nameof(OnnxRuntimeOptions.LoneRunThreads)}"] = "0",
            });
            var host = builder.Build();
            try
            {
                host.Start();
                ModelEntry entry = !string.IsNullOrWhiteSpace(model) && Directory.Exists(model)
                    ? CommandLineApp.ResolveModel(host.Services, model)
                    : host.Services.GetRequiredService<ModelCatalog>().Resolve(model);
                return new ServingStack(host, entry);
            }
            catch
            {
                host.Dispose();
                throw;
            }
        }

        public async ValueTask DisposeAsync()
        {
            await _host.StopAsync();
            if (_host is IAsyncDisposable async)
                await async.DisposeAsync();
            else
                _host.Dispose();
        }
    }
}

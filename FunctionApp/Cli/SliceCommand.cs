using System.CommandLine;
using FunctionApp.Inference;
using FunctionApp.Slicing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace FunctionApp.Cli;

/// <summary><c>slice --model DIR (--slices N | --max-slice-mb M) --out DIR</c></summary>
internal static class SliceCommand
{
    public static Command Create()
    {
        var model = new Option<string?>("--model", "-m") { Description = "The model package to slice; defaults to the default model." };
        var slices = new Option<int?>("--slices") { Description = "How many slices, balanced by weight bytes." };
        var maxMb = new Option<double?>("--max-slice-mb") { Description = "The most weight (MB) one slice may hold." };
        var output = new Option<DirectoryInfo>("--out") { Description = "Where to write the sliced model package.", Required = true };
        var command = new Command("slice", "Cut a model into sub-models that run in sequence, so no step needs the whole model's memory.") { model, slices, maxMb, output };
        command.Validators.Add(r =>
        {
            if (r.GetValue(slices) is null == r.GetValue(maxMb) is null)
                r.AddError("Give exactly one of --slices and --max-slice-mb.");
        });
        command.SetAction((parse, ct) => CommandLineApp.RunGuardedAsync(parse, async writer =>
        {
            using var host = CommandLineApp.BuildHost(parse);
            var entry = CommandLineApp.ResolveModel(host.Services, parse.GetValue(model));
            var package = ModelPackage.Open(entry.Directory);
            long? maxBytes = parse.GetValue(maxMb) is { } mb ? (long)(mb * 1024 * 1024) : null;

            // Four steps: cut and write the slices, load the original, load the slices, compare one inference.
            using var progress = CliProgress.Start(parse, "slice", 4, "steps");
            var sliced = PackageSlicer.Slice(package, parse.GetValue(slices), maxBytes, parse.GetValue(output)!.FullName);
            progress.Report(1);

            // The sliced package must load and agree with the original before it is called done.
            var runtime = host.Services.GetRequiredService<IOptions<OnnxRuntimeOptions>>().Value;
            using var original = InferencePipeline.Create(package, runtime);
            progress.Report(2);
            using var slicedPipeline = InferencePipeline.Create(ModelPackage.Open(sliced.Directory), runtime);
            progress.Report(3);
            var probe = new float[package.Manifest.Preprocessing.TensorLength];
            var random = new Random(1);
            for (int i = 0; i < probe.Length; i++)
                probe[i] = (float)random.NextDouble();
            using var a = original.CreateEngine();
            using var b = slicedPipeline.CreateEngine();
            float difference = a.Predict(new TensorInput { Pixels = probe }).Scores.Zip(b.Predict(new TensorInput { Pixels = probe }).Scores).Max(p => Math.Abs(p.First - p.Second));
            progress.Report(4);
            progress.Complete();

            var asVersion = sliced.Version == package.Version ? string.Empty : $" as version {sliced.Version}";
            await writer.WriteLineAsync($"Wrote {sliced.Slices.Count} slices of {package.Name} version {package.Version} to {sliced.Directory}{asVersion}");
            foreach (var slice in sliced.Slices)
                await writer.WriteLineAsync($"  {slice.File,-14} nodes {slice.FirstNode,4}-{slice.FirstNode + slice.NodeCount - 1,-4} weights {slice.WeightBytes / 1048576.0,7:F2} MB  in: {string.Join(", ", slice.Inputs.Select(t => t.Name))}");
            await writer.WriteLineAsync($"  largest slice {sliced.Slices.Max(s => s.WeightBytes) / (double)Math.Max(1, sliced.TotalWeightBytes):P0} of the weights; scores differ from the original by at most {difference:G3}");
            return 0;
        }));
        return command;
    }
}

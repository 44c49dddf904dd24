using System.CommandLine;
using System.Globalization;
using FunctionApp.Inference;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace FunctionApp.Cli;

/// <summary><c>models list</c> and <c>models validate DIR</c>.</summary>
internal static class ModelsCommand
{
    public static Command Create()
    {
        var directory = new Argument<DirectoryInfo>("directory") { Description = "The model package folder (with model.json)." };
        var validate = new Command("validate", "Check a model package against its ONNX graph, head and labels, then run one inference.") { directory };
        validate.SetAction((parse, ct) => CommandLineApp.RunGuardedAsync(parse, async output =>
        {
            using var host = CommandLineApp.BuildHost(parse);
            var runtime = host.Services.GetRequiredService<IOptions<OnnxRuntimeOptions>>().Value;
            var package = ModelPackage.Open(parse.GetValue(directory)!.FullName);
            using var pipeline = InferencePipeline.Create(package, runtime);
            using var engine = pipeline.CreateEngine();
            var output1 = engine.Predict(new TensorInput { Pixels = new float[package.Manifest.Preprocessing.TensorLength] });
            if (output1.Scores.Length != package.Labels.Count)
                throw new ModelPackageException(package.Directory, [$"one inference produced {output1.Scores.Length} scores for {package.Labels.Count} labels"]);

            var m = package.Manifest;
            var input = pipeline.Signature.Inputs.First(i => i.Name == m.InputTensor);
            var outputTensor = pipeline.Signature.Outputs.First(o => o.Name == m.OutputTensor);
            await output.WriteLineAsync($"OK: {m.Name} version {m.Version} is a valid model package.");
            await output.WriteLineAsync($"  input   {m.InputTensor} {input.ShapeText} float, {m.Preprocessing.Layout} {m.Preprocessing.ChannelOrder}, {m.Preprocessing.Width}x{m.Preprocessing.Height} ({m.Preprocessing.Resize})");
            await output.WriteLineAsync($"  output  {m.OutputTensor} {outputTensor.ShapeText} float{(m.Head is null ? string.Empty : $", then ML.NET head {m.Head.File}")}");
            await output.WriteLineAsync($"  classes {package.Labels.Count} ({string.Join(", ", package.Labels.Take(10))}{(package.Labels.Count > 10 ? ", ..." : string.Empty)}); scores are {m.Scores.ToString().ToLowerInvariant()}");
            return 0;
        }));

        var list = new Command("list", "List the model versions under the models root (Models:Root).");
        list.SetAction((parse, ct) => CommandLineApp.RunGuardedAsync(parse, async output =>
        {
            using var host = CommandLineApp.BuildHost(parse);
            var catalog = host.Services.GetRequiredService<ModelCatalog>();
            var entries = catalog.List();
            await output.WriteLineAsync($"Models under {catalog.Root} (default: {catalog.DefaultModel})");
            foreach (var entry in entries)
                await output.WriteLineAsync(string.Create(CultureInfo.InvariantCulture, $"  {entry.Name,-24} {entry.Version,-10} {entry.Directory}"));
            if (entries.Count == 0)
                await output.WriteLineAsync("  (none)");
            return 0;
        }));

        var sealDirectory = new Argument<DirectoryInfo>("directory") { Description = "The model package folder (with model.json)." };
        var seal = new Command("seal", "List every file of a package with its size and SHA-256 in model.json, as publishing to blob storage requires.") { sealDirectory };
        seal.SetAction((parse, ct) => CommandLineApp.RunGuardedAsync(parse, async output =>
        {
            var directory = parse.GetValue(sealDirectory)!.FullName;
            ModelPackage.Open(directory);
            var manifest = Storage.PackageSeal.Seal(directory);
            await output.WriteLineAsync($"Sealed {manifest.Name} version {manifest.Version}: {manifest.Files!.Count} files listed in {ModelManifest.FileName}");
            return 0;
        }));

        return new Command("models", "Inspect and prepare model packages.") { validate, list, seal };
    }
}

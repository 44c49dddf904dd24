using System.CommandLine;
using System.Globalization;
using FunctionApp.Imaging;
using FunctionApp.Inference;
using FunctionApp.Models;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace FunctionApp.Cli;

/// <summary><c>models import</c>, <c>models list</c>, <c>models validate DIR</c>, <c>models seal DIR</c>, <c>models quantize</c> and <c>models prepare</c>.</summary>
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
            var report = ModelPackageValidator.Validate(parse.GetValue(directory)!.FullName, runtime);
            if (!report.IsValid)
            {
                await WriteProblemsAsync(parse.InvocationConfiguration.Error, report);
                return 1;
            }

            await output.WriteLineAsync($"OK: {report.Package!.Name} version {report.Package.Version} is a valid model package.");
            await DescribeAsync(output, report.Package, report.Signature!);
            return 0;
        }));

        var list = new Command("list", "List the model versions under the models root (Models:Root).");
        list.SetAction((parse, ct) => CommandLineApp.RunGuardedAsync(parse, async output =>
        {
            using var host = CommandLineApp.BuildHost(parse);
            var catalog = host.Services.GetRequiredService<ModelCatalog>();
            var entries = catalog.List();
            await output.WriteLineAsync($"Models under {catalog.Root} (default: {catalog.DefaultModel ?? "none; set Models:Default"})");
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
            var package = ModelPackage.Open(directory);

            // Published packages are served under their folder's name: write that version, as the repository checks it.
            var note = string.Empty;
            if (ModelPackage.FolderVersion(package.Directory, package.Name) is { } version && version != package.Version)
            {
                await File.WriteAllTextAsync(Path.Combine(package.Directory, ModelManifest.FileName), (package.Manifest with { Version = version }).ToJson() + Environment.NewLine, ct);
                note = $" (the folder's version; model.json said {package.Version})";
            }

            var manifest = Models.PackageSeal.Seal(package.Directory);
            await output.WriteLineAsync($"Sealed {manifest.Name} version {manifest.Version}{note}: {manifest.Files!.Count} files listed in {ModelManifest.FileName}");
            return 0;
        }));

        return new Command("models", "Import, inspect and prepare model packages.") { ModelsImportCommand.Create(), validate, list, seal, ModelsQuantizeCommand.Create(), ModelsPrepareCommand.Create() };
    }

    /// <summary>Every problem of a package, one per line, on standard error.</summary>
    internal static async Task WriteProblemsAsync(TextWriter error, PackageValidation report)
    {
        await error.WriteLineAsync(report.Problems.Count == 1
            ? $"error: the model package in {report.Directory} is not valid: {report.Problems[0]}"
            : $"error: the model package in {report.Directory} has {report.Problems.Count} problems:");
        if (report.Problems.Count > 1)
        {
            foreach (var problem in report.Problems)
                await error.WriteLineAsync("  - " + problem);
        }
    }

    /// <summary>The facts of a valid package: its input and output tensors as the graph declares them, and its classes.</summary>
    internal static async Task DescribeAsync(TextWriter output, ModelPackage package, OnnxSignature signature)
    {
        var m = package.Manifest;
        var p = m.Preprocessing;
        var input = signature.Inputs.First(i => i.Name == m.InputTensor);
        var outputTensor = signature.Outputs.First(o => o.Name == m.OutputTensor);
        var channels = p.Channels == 1 ? "1 channel (grayscale)" : $"{(p.ChannelOrder == Imaging.ChannelOrder.Rgb ? "RGB" : "BGR")}, 3 channels";
        var layout = p.Layout == Imaging.TensorLayout.Nchw ? "NCHW" : "NHWC";
        var resize = p.Resize == Imaging.ResizeMode.CenterCrop ? $"shorter side {p.ResizeShorterSide}, centre crop" : "stretch";
        await output.WriteLineAsync($"  input   {m.InputTensor} {input.ShapeText} float: {layout}, {channels}, {p.Width}x{p.Height} ({resize})");
        await output.WriteLineAsync($"  output  {m.OutputTensor} {outputTensor.ShapeText} float{(m.Head is null ? string.Empty : $", then ML.NET head {m.Head.File}")}; scores are {m.Scores.ToString().ToLowerInvariant()}");
        await output.WriteLineAsync($"  classes {package.Labels.Count}: {LabelList(package.Labels, 5)}");
        var repeated = package.Labels.Select((label, index) => (label, index)).GroupBy(l => l.label, StringComparer.Ordinal).Where(g => g.Count() > 1).ToList();
        if (repeated.Count > 0)
        {
            var examples = string.Join(", ", repeated.Take(3).Select(g => $"\"{g.Key}\" ({string.Join(" and ", g.Select(l => l.index))})"));
            await output.WriteLineAsync($"          {repeated.Count} labels repeat, such as {examples}: answers tell them apart by their class index");
        }

        if (m.MinScore is { } floor)
            await output.WriteLineAsync(string.Create(CultureInfo.InvariantCulture, $"  minScore {floor}: answers whose top score is lower say lowConfidence"));
    }

    /// <summary>The first labels with their class index, quoted so that labels holding commas read as one.</summary>
    internal static string LabelList(IReadOnlyList<string> labels, int count) =>
        string.Join(", ", labels.Take(count).Select((label, i) => $"{i} \"{label}\"")) + (labels.Count > count ? ", ..." : string.Empty);
}

using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using FunctionApp.Inference;
using FunctionApp.Models;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace FunctionApp.Cli;

/// <summary>
/// <c>models prepare [FOLDER] [--into FOLDER] [--prune]</c>: the prepared form (see <see cref="PreparedModels"/>) of a package's
/// ONNX files, or of every package under a models root, for the app to ship; with <c>--prune</c> (as the build runs it),
/// the folder keeps only this run's entries.
/// </summary>
internal static class ModelsPrepareCommand
{
    public static Command Create()
    {
        var folder = new Argument<DirectoryInfo?>("folder") { Description = "A model package (with model.json) or a models root holding NAME/VERSION/ packages (default: Models:Root).", Arity = ArgumentArity.ZeroOrOne };
        var into = new Option<DirectoryInfo?>("--into") { Description = "Where the prepared models go (default: OnnxRuntime:PreparedModelsFolder, else prepared-models beside the app)." };
        var prune = new Option<bool>("--prune") { Description = "Remove every other entry from the folder, so that it holds only this run's models (refused for a single package)." };
        var command = new Command("prepare", "Prepare model packages for a fast first load on a new instance: ONNX Runtime's CPU-neutral optimizations done ahead, weights laid out to be mapped.") { folder, into, prune };
        command.SetAction((parse, ct) => CommandLineApp.RunGuardedAsync(parse, async output =>
        {
            string? source = parse.GetValue(folder)?.FullName;
            string? target = parse.GetValue(into)?.FullName;
            if (source is null || target is null)
            {
                using var host = CommandLineApp.BuildHost(parse);
                source ??= host.Services.GetRequiredService<ModelCatalog>().Root;
                var runtime = host.Services.GetRequiredService<IOptions<OnnxRuntimeOptions>>().Value;
                target ??= PreparedModels.RootFor(runtime);
            }

            return await RunAsync(parse, source, target, parse.GetValue(prune), output, ct);
        }));
        return command;
    }

    private static async Task<int> RunAsync(ParseResult parse, string source, string target, bool prune, TextWriter output, CancellationToken ct)
    {
        if (!Directory.Exists(source))
            throw new DirectoryNotFoundException($"The folder '{source}' does not exist.");
        bool isPackage = File.Exists(Path.Combine(source, ModelManifest.FileName));
        if (isPackage && prune)
            throw new ArgumentException("--prune needs a models root: given one package, it would remove every other model's entry.");
        var packages = isPackage
            ? [source]
            : Directory.EnumerateDirectories(source).Order(StringComparer.Ordinal)
                .SelectMany(model => Directory.EnumerateDirectories(model).Order(StringComparer.Ordinal))
                .Where(version => File.Exists(Path.Combine(version, ModelManifest.FileName)))
                .ToList();

        var prepared = new PreparedModels(target);
        var keep = new HashSet<string>(StringComparer.Ordinal);
        int failed = 0;
        using var progress = CliProgress.Start(parse, "prepare", packages.Count, "packages");
        for (int i = 0; i < packages.Count; i++)
        {
            ct.ThrowIfCancellationRequested();
            ModelPackage package;
            try
            {
                package = ModelPackage.Open(packages[i], PackageUse.Featurizer);
            }
            catch (ModelPackageException ex)
            {
                await parse.InvocationConfiguration.Error.WriteLineAsync("error: " + ex.Message);
                failed++;
                continue;
            }

            var files = package.IsSliced ? package.Manifest.Slices!.Select(sl => sl.File) : [package.Manifest.OnnxFile];
            foreach (var file in files)
            {
                long started = Stopwatch.GetTimestamp();
                try
                {
                    var result = prepared.Prepare(Path.Combine(package.Directory, file));
                    keep.Add(result.Key);
                    var what = result.Written
                        ? string.Create(CultureInfo.InvariantCulture, $"prepared in {Stopwatch.GetElapsedTime(started).TotalSeconds:0.00} s")
                        : "already prepared";
                    await output.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
                        $"{package.Name} {package.Version}: {file} {what} ({result.GraphBytes / 1024.0:0} KB graph, {result.WeightsBytes / 1048576.0:0.0} MB weights)"));
                }
                catch (Microsoft.ML.OnnxRuntime.OnnxRuntimeException ex)
                {
                    await parse.InvocationConfiguration.Error.WriteLineAsync($"error: {package.Name} {package.Version}: ONNX Runtime cannot load '{file}': {PublicText.Scrub(ex.Message)}");
                    failed++;
                }
            }

            progress.Report(i + 1);
        }

        progress.Complete();
        // After a failure the entries of the packages that failed may still be the right ones: nothing is removed.
        int removed = prune && failed == 0 ? prepared.RemoveAllBut(keep) : 0;
        await output.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
            $"{keep.Count} prepared {(keep.Count == 1 ? "model" : "models")} in {target}{(removed > 0 ? $"; removed {removed} of models no longer under {source}" : string.Empty)}"));
        return failed > 0 ? 1 : 0;
    }
}

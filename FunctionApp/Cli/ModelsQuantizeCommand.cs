using System.CommandLine;
using System.Globalization;
using FunctionApp.Imaging;
using FunctionApp.Inference;
using FunctionApp.Models;
using FunctionApp.Quantization;
using FunctionApp.Training;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace FunctionApp.Cli;

/// <summary>
/// <c>models quantize [PACKAGE] --images DIR [--eval DIR]</c>: an int8 version of a model package, calibrated on the
/// user's images, compared with the float version for top-1 agreement and speed.
/// </summary>
internal static class ModelsQuantizeCommand
{
    private static readonly string[] Methods = ["minmax", "percentile"];
    private static readonly string[] Types = ["uint8", "int8"];

    public static Command Create()
    {
        var package = new Argument<DirectoryInfo?>("package") { Description = "The model package folder to quantize (default: the default model's newest version).", Arity = ArgumentArity.ZeroOrOne };
        var images = new Option<DirectoryInfo>("--images") { Description = "Calibration images like those the model will serve (any depth of folders).", Required = true };
        var count = new Option<int>("--calibration-images") { Description = "Use at most this many calibration images, spread over the folder.", DefaultValueFactory = _ => 500 };
        var method = new Option<string>("--calibration") { Description = "How activation ranges are set: minmax (nothing seen saturates) or percentile (99.999th, outliers clipped).", DefaultValueFactory = _ => "minmax" };
        method.AcceptOnlyFromAmong(Methods);
        var percentile = new Option<double>("--percentile") { Description = "With --calibration percentile: the percentile kept on each side (above 50, at most 100).", DefaultValueFactory = _ => ActivationCalibrator.DefaultPercentile };
        var activations = new Option<string>("--activations") { Description = "The type of quantized activations: uint8 or int8 (weights are always int8, per channel).", DefaultValueFactory = _ => "uint8" };
        activations.AcceptOnlyFromAmong(Types);
        var keepFloat = new Option<string[]>("--keep-float") { Description = "A node (by name or output tensor) to leave in float; repeat for several.", AllowMultipleArgumentsPerToken = true };
        var inputLayer = new Option<bool>("--quantize-input-layer") { Description = "Quantize the layer that reads the image too: faster, less faithful to the float version (by default it stays float)." };
        var quantizeAdds = new Option<bool>("--quantize-adds") { Description = "Give every Add its own quantized output. By default none has one: ONNX Runtime still fuses an Add whose result a quantized node reads, and the others (such as a ResNet's last, whose sum becomes the features) stay float, which agrees more often with the float version." };
        var noBiasCorrection = new Option<bool>("--no-bias-correction") { Description = "Skip bias correction (by default each quantized convolution's bias is corrected, layer by layer, for the shift quantization gives its channel means on the calibration images)." };
        var noWeightRounding = new Option<bool>("--no-weight-rounding") { Description = "Round every weight to its nearest int8 step (by default each quantized convolution's weights are rounded up or down, whichever moves its output least on the calibration images)." };
        var eval = new Option<DirectoryInfo?>("--eval") { Description = "Labelled images (one subfolder per class) to compare the two versions on: top-1 agreement, accuracy and speed." };
        var maxPerClass = new Option<int?>("--max-per-class") { Description = "Compare on at most this many images of each class." };
        var version = new Option<string?>("--version") { Description = "The new version (default: the next number after the newest)." };
        var root = new Option<DirectoryInfo?>("--out") { Description = "The models root to write NAME/VERSION/ under (default: the root the package lives in, else Models:Root)." };

        var command = new Command("quantize", "Make an int8 version of a model package (static QDQ, calibrated on your images) and compare it with the float version.")
        {
            package, images, count, method, percentile, activations, keepFloat, inputLayer, quantizeAdds, noBiasCorrection, noWeightRounding, eval, maxPerClass, version, root,
        };
        command.SetAction((parse, ct) => CommandLineApp.RunGuardedAsync(parse, async output =>
        {
            if (parse.GetValue(count) < 1)
                throw new ArgumentException("--calibration-images must be at least 1.");
            if (parse.GetValue(percentile) is not (> 50 and <= 100))
                throw new ArgumentException("--percentile must be above 50 and at most 100, such as 99.99.");
            if (parse.GetValue(maxPerClass) is < 1)
                throw new ArgumentException("--max-per-class must be at least 1.");
            using var host = CommandLineApp.BuildHost(parse);
            try
            {
                return await RunAsync(parse, host.Services, output, ct);
            }
            finally
            {
                // Stopped before it is disposed, so that its background services end quietly.
                await host.StopAsync(CancellationToken.None);
            }
        }));
        return command;

        async Task<int> RunAsync(ParseResult parse, IServiceProvider services, TextWriter output, CancellationToken ct)
        {
            var runtime = services.GetRequiredService<IOptions<OnnxRuntimeOptions>>().Value;
            var preprocessor = services.GetRequiredService<ImagePreprocessor>();
            var entry = CommandLineApp.ResolveModel(services, parse.GetValue(package)?.FullName);
            var source = ModelPackage.Open(entry.Directory);
            var evalFolder = parse.GetValue(eval) is { } evalDirectory ? LabelledImageFolder.Scan(evalDirectory.FullName, parse.GetValue(maxPerClass)) : null;
            var request = new QuantizeRequest(source.Directory, parse.GetValue(images)!.FullName, parse.GetValue(root)?.FullName ?? DefaultRoot(source, services))
            {
                Version = parse.GetValue(version),
                MaxCalibrationImages = parse.GetValue(count),
                Method = parse.GetValue(method) == "percentile" ? CalibrationMethod.Percentile : CalibrationMethod.MinMax,
                Percentile = parse.GetValue(percentile),
                Activations = parse.GetValue(activations) == "int8" ? QuantType.S8 : QuantType.U8,
                Excluded = (parse.GetValue(keepFloat) ?? []).ToHashSet(StringComparer.Ordinal),
                QuantizeInputLayer = parse.GetValue(inputLayer),
                KeepAddsFloat = !parse.GetValue(quantizeAdds),
                BiasCorrection = !parse.GetValue(noBiasCorrection),
                WeightRounding = !parse.GetValue(noWeightRounding),
            };

            QuantizeResult result;
            var calibrationCount = PackageQuantizer.CalibrationFiles(request.CalibrationDirectory, request.MaxCalibrationImages).Count;
            using (var progress = CliProgress.Start(parse, "calibrate", calibrationCount, "images"))
            using (var rounding = new NextStage(progress, () => CliProgress.Start(parse, "round weights", 0, "layers")))
            {
                try
                {
                    result = PackageQuantizer.Quantize(request, runtime, preprocessor, progress, rounding, ct);
                }
                catch (ModelPackageException ex)
                {
                    await ModelsCommand.WriteProblemsAsync(parse.InvocationConfiguration.Error, new PackageValidation(ex.Directory, ex.Problems));
                    return 1;
                }

                progress.Complete();
                rounding.Complete();
            }

            if (source.Manifest.Files is not null)
                Models.PackageSeal.Seal(result.Directory);

            var s = result.Summary;
            await output.WriteLineAsync($"Quantized {source.Name} version {source.Version} into version {result.Manifest.Version} at {result.Directory}");
            foreach (var note in result.Notes)
                await output.WriteLineAsync("  " + note);
            var ops = string.Join(", ", s.QuantizedNodes.OrderByDescending(p => p.Value).Select(p => $"{p.Value} {p.Key}"));
            await output.WriteLineAsync(string.Create(CultureInfo.InvariantCulture, $"  int8: {ops}; {s.QuantizedWeights} weights per-channel int8; {s.FoldedActivations} ReLU folded into the quantized output before them"));
            if (s.FloatNodes.Count > 0)
                await output.WriteLineAsync($"  float: {string.Join(", ", s.FloatNodes.Take(6))}{(s.FloatNodes.Count > 6 ? $" and {s.FloatNodes.Count - 6} more" : string.Empty)}");
            await output.WriteLineAsync(string.Create(CultureInfo.InvariantCulture, $"  size: {result.FloatBytes / 1e6:F1} MB -> {result.QuantizedBytes / 1e6:F1} MB ({result.Manifest.OnnxFile}); {result.UnreadableImages} calibration images unreadable"));

            if (evalFolder is null)
            {
                await output.WriteLineAsync("Not compared with the float version: pass --eval DIR (labelled images) to measure agreement and speed.");
                return 0;
            }

            var quantized = ModelPackage.Open(result.Directory);
            var compareImages = evalFolder.Images.Select(i => new ComparisonImage(i.Path, evalFolder.Classes[i.ClassIndex])).ToList();
            ComparisonReport report;
            using (var progress = CliProgress.Start(parse, "compare", compareImages.Count, "images"))
            {
                report = QuantizationComparison.Compare(source, quantized, compareImages, runtime, preprocessor, progress, ct);
                progress.Complete();
            }

            await output.WriteLineAsync($"Compared with version {source.Version} on {report.Images} images in {evalFolder.Root} ({report.Unreadable} unreadable):");
            await output.WriteLineAsync(string.Create(CultureInfo.InvariantCulture, $"  top-1 agreement {report.Agreement:P2} ({report.Agreeing} of {report.Images})"));
            if (report.FloatAccuracy is { } floatAccuracy && report.QuantizedAccuracy is { } quantizedAccuracy)
                await output.WriteLineAsync(string.Create(CultureInfo.InvariantCulture, $"  top-1 accuracy  float {floatAccuracy:P2}, int8 {quantizedAccuracy:P2} (labels from the class folders)"));
            await output.WriteLineAsync(string.Create(CultureInfo.InvariantCulture, $"  speed  float {report.FloatImagesPerSecond:F1} images/s, int8 {report.QuantizedImagesPerSecond:F1} images/s: {report.Speedup:F2}x (ML.NET pipeline, one image per run, {report.IntraOpThreads} intra-op threads, same run)"));
            if (runtime.UsesExactInt8Kernels)
                await output.WriteLineAsync("  This CPU has no VNNI: int8 runs here on ONNX Runtime's exact but slower kernels (OnnxRuntime:ExactInt8Products); CPUs with VNNI run it faster.");
            if (report.Agreement < 0.99)
                await output.WriteLineAsync("  Agreement is below 99%: try more --calibration-images, or images closer to what the model will see.");
            return 0;
        }
    }

    /// <summary>The models root a package lives in (ROOT/NAME/VERSION), else the configured one.</summary>
    private static string DefaultRoot(ModelPackage source, IServiceProvider services)
    {
        var parent = Path.GetDirectoryName(source.Directory);
        if (parent is not null && Path.GetFileName(parent) == source.Name && Path.GetDirectoryName(parent) is { } root)
            return root;
        return services.GetRequiredService<IOptions<ModelsOptions>>().Value.ResolvedRoot;
    }

    /// <summary>The progress of a later step of the same call: its bar starts at its first report, once the earlier one has ended.</summary>
    private sealed class NextStage(CliProgress previous, Func<CliProgress> start) : IProgress<(int Done, int Total)>, IDisposable
    {
        private CliProgress? _current;

        public void Report((int Done, int Total) value)
        {
            if (_current is null)
            {
                previous.Complete();
                _current = start();
            }

            _current.Report(value);
        }

        public void Complete() => _current?.Complete();

        public void Dispose() => _current?.Dispose();
    }
}

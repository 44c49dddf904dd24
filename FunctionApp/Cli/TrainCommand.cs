using System.CommandLine;
using FunctionApp.Imaging;
using FunctionApp.Inference;
using FunctionApp.Training;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace FunctionApp.Cli;

/// <summary><c>train --data DIR --out DIR</c>: transfer learning into a new model package.</summary>
internal static class TrainCommand
{
    public static Command Create()
    {
        var data = new Option<DirectoryInfo>("--data") { Description = "Labelled images: one subfolder per class.", Required = true };
        var output = new Option<DirectoryInfo>("--out") { Description = "Where to write the new model package.", Required = true };
        var featurizer = new Option<string?>("--featurizer") { Description = "The model package whose ONNX model turns images into features; defaults to the default model." };
        var name = new Option<string>("--name") { Description = "The new model's name.", DefaultValueFactory = _ => "custom" };
        var version = new Option<string>("--version") { Description = "The new model's version.", DefaultValueFactory = _ => "1" };
        var maxPerClass = new Option<int?>("--max-per-class") { Description = "Use at most this many images of each class." };
        var holdout = new Option<double>("--holdout") { Description = "Fraction of images kept back to measure accuracy.", DefaultValueFactory = _ => 0.1 };
        var seed = new Option<int>("--seed") { Description = "Seed for the hold-out split and training.", DefaultValueFactory = _ => 1 };
        var description = new Option<string?>("--description") { Description = "A sentence describing the new model, stored in its manifest." };

        var command = new Command("train", "Train a classifier head on ONNX image features (transfer learning) and write a model package.")
        {
            data, output, featurizer, name, version, maxPerClass, holdout, seed, description,
        };
        command.SetAction((parse, ct) => CommandLineApp.RunGuardedAsync(parse, async writer =>
        {
            using var host = CommandLineApp.BuildHost(parse);
            var services = host.Services;
            var featurizerEntry = CommandLineApp.ResolveModel(services, parse.GetValue(featurizer));
            var package = ModelPackage.Open(featurizerEntry.Directory, PackageUse.Featurizer);
            var trainer = new TransferLearningTrainer(services.GetRequiredService<ImagePreprocessor>(), services.GetRequiredService<ILoggerFactory>());
            var request = new TrainingRequest(
                parse.GetValue(data)!.FullName,
                parse.GetValue(output)!.FullName,
                parse.GetValue(name)!,
                parse.GetValue(version)!,
                parse.GetValue(maxPerClass),
                parse.GetValue(holdout),
                parse.GetValue(seed),
                parse.GetValue(description));
            TrainingReport report;
            using (var progress = CliProgress.Start(parse, "train: featurizing", 0, "images"))
            {
                report = await trainer.TrainAsync(package, request with { Progress = progress }, ct);
                progress.Complete();
            }

            // The package must load like any other before it is called done.
            using var pipeline = InferencePipeline.Create(ModelPackage.Open(request.OutputDirectory), new OnnxRuntimeOptions());
            await writer.WriteLineAsync($"Wrote model {request.Name} version {request.Version} to {request.OutputDirectory}");
            await writer.WriteLineAsync($"  classes  {report.Classes.Count}: {string.Join(", ", report.Classes)}");
            await writer.WriteLineAsync($"  images   {report.TrainImages} trained, {report.HoldoutImages} held out, {report.UnreadableImages} unreadable");
            if (report.HoldoutAccuracy is { } accuracy)
                await writer.WriteLineAsync($"  hold-out top-1 accuracy {accuracy:P2}");
            await writer.WriteLineAsync($"  featurized in {report.FeaturizeSeconds:F1} s, fitted in {report.FitSeconds:F1} s");
            return 0;
        }));
        return command;
    }
}

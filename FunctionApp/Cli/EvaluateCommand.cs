using System.CommandLine;
using FunctionApp.Classification;
using FunctionApp.Training;
using Microsoft.Extensions.DependencyInjection;

namespace FunctionApp.Cli;

/// <summary><c>evaluate --data DIR [--model DIR]</c>: top-1 accuracy on a labelled folder.</summary>
internal static class EvaluateCommand
{
    public static Command Create()
    {
        var data = new Option<DirectoryInfo>("--data") { Description = "Labelled images: one subfolder per class, named as the model's labels.", Required = true };
        var model = new Option<string?>("--model", "-m") { Description = "A model package folder; defaults to the default model." };
        var maxPerClass = new Option<int?>("--max-per-class") { Description = "Use at most this many images of each class." };

        var command = new Command("evaluate", "Measure a model's top-1 accuracy on labelled images.") { data, model, maxPerClass };
        command.SetAction((parse, ct) => CommandLineApp.RunGuardedAsync(parse, async output =>
        {
            using var host = CommandLineApp.BuildHost(parse);
            var entry = CommandLineApp.ResolveModel(host.Services, parse.GetValue(model));
            var folder = LabelledImageFolder.Scan(parse.GetValue(data)!.FullName, parse.GetValue(maxPerClass));
            var evaluator = new ClassifierEvaluator(host.Services.GetRequiredService<ImageClassifier>());
            EvaluationReport report;
            using (var progress = CliProgress.Start(parse, "evaluate", folder.Images.Count, "images"))
            {
                report = await evaluator.EvaluateAsync(entry, folder, progress, ct);
                progress.Complete();
            }

            await output.WriteLineAsync($"Model {report.Model} version {report.Version} on {folder.Root}");
            await output.WriteLineAsync($"  top-1 accuracy {report.Accuracy:P2} ({report.Correct} of {report.Images}; {report.Unreadable} unreadable)");
            foreach (var (label, accuracy) in report.PerClassAccuracy)
                await output.WriteLineAsync($"  {label,-16} {accuracy:P1}");
            return 0;
        }));
        return command;
    }
}

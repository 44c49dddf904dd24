using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using FunctionApp.Api;
using FunctionApp.Classification;
using Microsoft.Extensions.DependencyInjection;

namespace FunctionApp.Cli;

/// <summary><c>predict IMAGE... [--model DIR] [--top K] [--json]</c></summary>
internal static class PredictCommand
{
    private const int BatchSize = 32;
    private const string LowConfidenceMark = " (low confidence)";
    private static readonly string[] Header = ["IMAGE", "RANK", "LABEL", "SCORE", "MS"];

    public static Command Create()
    {
        var images = new Argument<FileInfo[]>("images") { Description = "Image files (JPEG, PNG, BMP, GIF or WebP).", Arity = ArgumentArity.OneOrMore };
        var model = new Option<string?>("--model", "-m") { Description = "A model package folder; defaults to the default model." };
        var top = new Option<int>("--top", "-k") { Description = "How many labels to show per image.", DefaultValueFactory = _ => 5 };
        var json = new Option<bool>("--json") { Description = "Print JSON instead of a table." };
        var minScore = new Option<float?>("--min-score") { Description = "Confidence floor from 0 to 1: answers whose top score is lower are marked low confidence (default: the model's minScore)." };
        minScore.Validators.Add(r =>
        {
            if (r.GetValueOrDefault<float?>() is { } floor && !(floor >= 0f && floor <= 1f))
                r.AddError("--min-score must be from 0 to 1.");
        });
        top.Validators.Add(r =>
        {
            if (r.GetValueOrDefault<int>() < 1)
                r.AddError("--top must be at least 1.");
        });

        // An option this verb does not have would otherwise be taken for an image's file name.
        images.Validators.Add(r =>
        {
            foreach (var token in r.Tokens.Where(t => t.Value.StartsWith('-') && !File.Exists(t.Value)))
                r.AddError($"Unrecognized command or argument '{token.Value}'.");
        });

        var command = new Command("predict", "Classify images and print the top labels.") { images, model, top, json, minScore };
        command.SetAction((parse, ct) => CommandLineApp.RunGuardedAsync(parse, async output =>
        {
            using var host = CommandLineApp.BuildHost(parse);
            var entry = CommandLineApp.ResolveModel(host.Services, parse.GetValue(model));
            var classifier = host.Services.GetRequiredService<ImageClassifier>();
            var files = parse.GetValue(images)!;
            var results = new List<ImagePrediction>();
            string version = entry.Version;
            float? floor = parse.GetValue(minScore);

            // One batch answers at once; more images than that show their progress.
            using var progress = files.Length > BatchSize ? CliProgress.Start(parse, "predict", files.Length, "images") : null;
            foreach (var chunk in files.Chunk(BatchSize))
            {
                var batch = new List<NamedImage>();
                foreach (var file in chunk)
                {
                    if (!file.Exists)
                    {
                        results.Add(new ImagePrediction(file.Name, null, null, null, $"{file.FullName} does not exist."));
                        continue;
                    }

                    batch.Add(new NamedImage(file.Name, await File.ReadAllBytesAsync(file.FullName, ct)));
                }

                if (batch.Count > 0)
                {
                    var result = await classifier.ClassifyBatchAsync(batch, entry, parse.GetValue(top), floor, ct);
                    version = result.Version;
                    results.AddRange(result.Images);
                }

                progress?.Report(results.Count);
            }

            progress?.Complete();

            var answer = new PredictionResult(entry.Name, version, results);
            if (parse.GetValue(json))
                await output.WriteLineAsync(JsonSerializer.Serialize(answer, Api.ApiJson.Options));
            else
                await WriteTableAsync(output, answer);

            foreach (var failed in results.Where(r => !r.Succeeded))
                await parse.InvocationConfiguration.Error.WriteLineAsync($"error: {failed.Name}: {failed.Error}");
            return results.All(r => r.Succeeded) ? 0 : 1;
        }));
        return command;
    }

    private static async Task WriteTableAsync(TextWriter output, PredictionResult result)
    {
        await output.WriteLineAsync($"Model {result.Model} version {result.Version}");
        var rows = new List<string[]> { Header };
        foreach (var image in result.Images)
        {
            if (image.Top is null)
            {
                rows.Add([image.Name ?? "-", "-", "(error)", "-", "-"]);
                continue;
            }

            var ms = image.Timings is { } t ? (t.DecodeMs + t.PreprocessMs + t.InferenceMs).ToString("F1", CultureInfo.InvariantCulture) : "-";
            for (int i = 0; i < image.Top.Count; i++)
            {
                var label = image.Top[i];
                var mark = i == 0 && image.LowConfidence == true ? LowConfidenceMark : string.Empty;
                rows.Add([i == 0 ? image.Name ?? "-" : string.Empty, (i + 1).ToString(CultureInfo.InvariantCulture), label.Label + mark, label.Score.ToString("F4", CultureInfo.InvariantCulture), i == 0 ? ms : string.Empty]);
            }
        }

        var widths = Enumerable.Range(0, 5).Select(c => rows.Max(r => r[c].Length)).ToArray();
        foreach (var row in rows)
            await output.WriteLineAsync(string.Join("  ", row.Select((cell, c) => c is 1 or 3 or 4 ? cell.PadLeft(widths[c]) : cell.PadRight(widths[c]))).TrimEnd());
        if (result.Images.Any(i => i.LowConfidence == true))
            await output.WriteLineAsync("Low confidence: the top score is below the model's confidence floor (minScore); the image may show none of its classes.");
    }
}

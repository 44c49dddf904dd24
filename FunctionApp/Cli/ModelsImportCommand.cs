using System.CommandLine;
using System.Globalization;
using FunctionApp.Imaging;
using FunctionApp.Inference;
using FunctionApp.Models;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace FunctionApp.Cli;

/// <summary>
/// <c>models import MODEL.onnx --name N [--version V] [--labels FILE] [--preset P] [--out ROOT]</c>: an ONNX image
/// classifier becomes a model package under the models root, with what the graph says and what was guessed printed.
/// </summary>
internal static class ModelsImportCommand
{
    private static readonly string[] Layouts = ["NCHW", "NHWC"];
    private static readonly string[] ChannelOrders = ["RGB", "BGR"];
    private static readonly string[] PixelScales = ["0-1", "0-255"];
    private static readonly string[] ScoreKinds = ["logits", "probabilities"];

    public static Command Create()
    {
        var model = new Argument<FileInfo>("model") { Description = "The ONNX file of an image classifier." };
        var name = new Option<string>("--name") { Description = "The model's name: letters, digits, '-', '_' or '.'.", Required = true };
        var version = new Option<string?>("--version") { Description = "The version to write (default: 1, or the next after the newest already there)." };
        var labels = new Option<FileInfo?>("--labels") { Description = "Labels, one per line in class order (synset lines such as 'n01440764 tench, Tinca tinca' are read too). Default: the class numbers." };
        var preset = new Option<string?>("--preset") { Description = $"How the model's family expects pixels: {PreprocessingPreset.Names} (default: guessed from the input)." };
        var root = new Option<DirectoryInfo?>("--out") { Description = "The models root to write ROOT/NAME/VERSION/ under (default: Models:Root, the app's models folder)." };
        var layout = new Option<string?>("--layout") { Description = "NCHW or NHWC (default: read from the input's shape)." };
        layout.AcceptOnlyFromAmong(Layouts);
        var channelOrder = new Option<string?>("--channel-order") { Description = "RGB or BGR (default: the preset's)." };
        channelOrder.AcceptOnlyFromAmong(ChannelOrders);
        var pixelScale = new Option<string?>("--pixel-scale") { Description = "0-1 or 0-255 (default: the preset's)." };
        pixelScale.AcceptOnlyFromAmong(PixelScales);
        var mean = new Option<string?>("--mean") { Description = "Per-channel mean after scaling, comma-separated, or one value for all (default: the preset's)." };
        var std = new Option<string?>("--std") { Description = "Per-channel standard deviation, comma-separated, or one value for all (default: the preset's)." };
        var resize = new Option<string?>("--resize") { Description = "stretch, center-crop, or center-crop:SHORTER (the shorter side before the crop; default: the preset's)." };
        var size = new Option<string?>("--size") { Description = "The input size, as 224 or WIDTHxHEIGHT, when the graph leaves it open (default: 224)." };
        var input = new Option<string?>("--input") { Description = "The graph input that takes the image, when it has several." };
        var output = new Option<string?>("--output") { Description = "The graph output that holds the class scores, when it has several." };
        var scores = new Option<string?>("--scores") { Description = "logits or probabilities (default: probabilities when the probe's outputs sum to 1)." };
        scores.AcceptOnlyFromAmong(ScoreKinds);
        var minScore = new Option<float?>("--min-score") { Description = "A confidence floor from 0 to 1 for the manifest: answers whose top score is lower say lowConfidence." };
        var description = new Option<string?>("--description") { Description = "A sentence describing the model, stored in its manifest." };

        var command = new Command("import", "Make a model package from an ONNX image classifier: read its graph, fill the manifest from it and a preset, copy it under the models root, validate it and run one inference.")
        {
            model, name, version, labels, preset, root, layout, channelOrder, pixelScale, mean, std, resize, size, input, output, scores, minScore, description,
        };
        command.SetAction((parse, ct) => CommandLineApp.RunGuardedAsync(parse, async writer =>
        {
            using var host = CommandLineApp.BuildHost(parse);
            var services = host.Services;
            var (resizeMode, shorterSide) = ParseResize(parse.GetValue(resize));
            var (width, height) = ParseSize(parse.GetValue(size));
            var request = new ImportRequest(
                parse.GetValue(model)!.FullName,
                parse.GetValue(name)!,
                parse.GetValue(root)?.FullName ?? services.GetRequiredService<IOptions<ModelsOptions>>().Value.ResolvedRoot)
            {
                Version = parse.GetValue(version),
                LabelsPath = parse.GetValue(labels)?.FullName,
                Preset = parse.GetValue(preset),
                Description = parse.GetValue(description),
                InputTensor = parse.GetValue(input),
                OutputTensor = parse.GetValue(output),
                Layout = parse.GetValue(layout) is { } l ? (l.Equals("NHWC", StringComparison.OrdinalIgnoreCase) ? TensorLayout.Nhwc : TensorLayout.Nchw) : null,
                ChannelOrder = parse.GetValue(channelOrder) is { } c ? (c.Equals("BGR", StringComparison.OrdinalIgnoreCase) ? ChannelOrder.Bgr : ChannelOrder.Rgb) : null,
                PixelScale = parse.GetValue(pixelScale) is { } p ? (p == "0-255" ? PixelScale.Byte : PixelScale.Unit) : null,
                Mean = ParseValues(parse.GetValue(mean), "--mean"),
                Std = ParseValues(parse.GetValue(std), "--std"),
                Resize = resizeMode,
                ShorterSide = shorterSide,
                Width = width,
                Height = height,
                Scores = parse.GetValue(scores) is { } s ? (s == "probabilities" ? ScoreKind.Probabilities : ScoreKind.Logits) : null,
                MinScore = parse.GetValue(minScore),
            };

            ImportResult result;
            try
            {
                result = ModelImporter.Import(request, services.GetRequiredService<IOptions<OnnxRuntimeOptions>>().Value, services.GetRequiredService<ImagePreprocessor>());
            }
            catch (ModelPackageException ex)
            {
                await ModelsCommand.WriteProblemsAsync(parse.InvocationConfiguration.Error, new PackageValidation(request.Name, ex.Problems));
                return 1;
            }

            await writer.WriteLineAsync($"Imported {result.Manifest.Name} version {result.Manifest.Version} into {result.Directory}");
            await writer.WriteLineAsync("Read from the graph:");
            foreach (var fact in result.FromGraph)
                await writer.WriteLineAsync($"  {fact.What,-8} {fact.Value}: {fact.How}");
            await writer.WriteLineAsync(result.Guessed.Count == 0 ? "Guessed: nothing (every choice was given)." : "Guessed (each has an option to set it):");
            foreach (var fact in result.Guessed)
                await writer.WriteLineAsync($"  {fact.What,-8} {fact.Value}: {fact.How}");
            await writer.WriteLineAsync(string.Create(CultureInfo.InvariantCulture, $"Checked: the package validates, and one inference on a probe image gave {result.Validation.Scores?.Length ?? 0} scores."));
            await ModelsCommand.DescribeAsync(writer, result.Validation.Package!, result.Validation.Signature!);
            await writer.WriteLineAsync($"{ModelManifest.FileName}:");
            await writer.WriteLineAsync(result.Manifest.ToJson());
            return 0;
        }));
        return command;
    }

    private static float[]? ParseValues(string? text, string option)
    {
        if (string.IsNullOrWhiteSpace(text))
            return null;
        var parts = text.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
        var values = new float[parts.Length];
        for (int i = 0; i < parts.Length; i++)
        {
            if (!float.TryParse(parts[i], NumberStyles.Float, CultureInfo.InvariantCulture, out values[i]))
                throw new ArgumentException($"{option} takes numbers separated by commas, such as 0.485,0.456,0.406 (got '{text}').");
        }

        return values;
    }

    private static (ResizeMode? Mode, int? ShorterSide) ParseResize(string? text)
    {
        if (string.IsNullOrWhiteSpace(text))
            return (null, null);
        if (text.Equals("stretch", StringComparison.OrdinalIgnoreCase))
            return (ResizeMode.Stretch, null);
        if (text.Equals("center-crop", StringComparison.OrdinalIgnoreCase))
            return (ResizeMode.CenterCrop, null);
        const string prefix = "center-crop:";
        if (text.StartsWith(prefix, StringComparison.OrdinalIgnoreCase) && int.TryParse(text[prefix.Length..], NumberStyles.None, CultureInfo.InvariantCulture, out var side) && side > 0)
            return (ResizeMode.CenterCrop, side);
        throw new ArgumentException($"--resize takes stretch, center-crop or center-crop:SHORTER such as center-crop:256 (got '{text}').");
    }

    private static (int? Width, int? Height) ParseSize(string? text)
    {
        if (string.IsNullOrWhiteSpace(text))
            return (null, null);
        var parts = text.Split('x', 'X');
        if (parts.Length is 1 or 2 && parts.All(p => int.TryParse(p, NumberStyles.None, CultureInfo.InvariantCulture, out var v) && v is > 0 and <= 4096))
        {
            int w = int.Parse(parts[0], CultureInfo.InvariantCulture);
            return (w, parts.Length == 2 ? int.Parse(parts[1], CultureInfo.InvariantCulture) : w);
        }

        throw new ArgumentException($"--size takes a size such as 224 or 320x240 (got '{text}').");
    }
}

using System.Globalization;
using FunctionApp.Imaging;
using FunctionApp.Inference;
using Microsoft.ML.OnnxRuntime;
using SkiaSharp;

namespace FunctionApp.Models;

/// <summary>What <c>models import</c> was asked: the ONNX file, where the package goes, and anything the graph and preset should not decide.</summary>
public sealed record ImportRequest(string OnnxPath, string Name, string Root)
{
    public string? Version { get; init; }
    public string? LabelsPath { get; init; }
    public string? Preset { get; init; }
    public string? Description { get; init; }
    public string? InputTensor { get; init; }
    public string? OutputTensor { get; init; }
    public TensorLayout? Layout { get; init; }
    public ChannelOrder? ChannelOrder { get; init; }
    public PixelScale? PixelScale { get; init; }
    public IReadOnlyList<float>? Mean { get; init; }
    public IReadOnlyList<float>? Std { get; init; }
    public ResizeMode? Resize { get; init; }
    public int? ShorterSide { get; init; }
    public int? Width { get; init; }
    public int? Height { get; init; }
    public ScoreKind? Scores { get; init; }
    public float? MinScore { get; init; }
}

/// <summary>One fact of an import: what it is, the value chosen, and how it was found (read from the graph, guessed, or given).</summary>
public sealed record ImportFact(string What, string Value, string How);

/// <summary>What <c>models import</c> wrote, what it read from the graph and what it guessed.</summary>
public sealed record ImportResult(string Directory, ModelManifest Manifest, IReadOnlyList<ImportFact> FromGraph, IReadOnlyList<ImportFact> Guessed, PackageValidation Validation);

/// <summary>
/// Turns an ONNX image classifier into a model package: reads the graph's true inputs and outputs (weights listed among
/// the inputs by older exporters are left out), tells the layout, channels, size and batch from the input's shape,
/// fills the preprocessing from a preset and the overrides, runs the model once on zeros to learn its class count and
/// once on a probe image to tell probabilities from logits, writes the package under a temporary name, validates it
/// like <c>models validate</c>, and only then moves it to <c>{root}/{name}/{version}/</c>.
/// </summary>
public static class ModelImporter
{
    public const int DefaultSize = 224;

    /// <exception cref="ArgumentException">The request or the graph cannot make a package (the message says why and which option helps).</exception>
    /// <exception cref="ModelPackageException">The package written does not validate; nothing is left in the models root.</exception>
    public static ImportResult Import(ImportRequest request, OnnxRuntimeOptions runtime, ImagePreprocessor preprocessor)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(runtime);
        ArgumentNullException.ThrowIfNull(preprocessor);
        var fromGraph = new List<ImportFact>();
        var guessed = new List<ImportFact>();

        var onnxPath = Path.GetFullPath(request.OnnxPath);
        if (!File.Exists(onnxPath))
            throw new FileNotFoundException($"{onnxPath} does not exist.", onnxPath);
        CheckName(request.Name, "--name");
        var root = Path.GetFullPath(request.Root);
        var version = request.Version ?? NextVersion(Path.Combine(root, request.Name), guessed);
        CheckName(version, "--version");
        var target = Path.Combine(root, request.Name, version);
        if (Directory.Exists(target))
            throw new ArgumentException($"{target} already exists; choose another --version (or remove it).");

        OnnxSignature signature;
        try
        {
            signature = OnnxSignature.Read(onnxPath);
        }
        catch (Exception ex) when (ex is InvalidDataException or Google.Protobuf.InvalidProtocolBufferException)
        {
            throw new ArgumentException($"{Path.GetFileName(onnxPath)} is not an ONNX model: {ex.Message}", ex);
        }

        var input = ChooseInput(signature, request.InputTensor);
        var output = ChooseOutput(signature, request.OutputTensor);

        var presetGiven = request.Preset is not null;
        var (layout, channels, height, width) = ReadInputShape(input, request.Layout, request.Preset is { } named ? PreprocessingPreset.Find(named).Layout : null);
        var (presetName, reason) = GuessPreset(signature.ProducerName, layout, channels);
        var preset = PreprocessingPreset.Find(request.Preset ?? presetName);
        if (!presetGiven)
            guessed.Add(new ImportFact("preset", preset.Name, $"no --preset: {reason}; it fits {preset.Fits}"));

        width = SizeOf(width, request.Width, "width", guessed);
        height = SizeOf(height, request.Height, "height", guessed);
        long batch = input.Shape[0];
        if (batch > 1)
            throw new ArgumentException($"Input '{input.Name}' {input.ShapeText} has a fixed batch of {batch}; the app feeds one image per run, so the batch must be 1 or dynamic.");
        var weights = signature.WeightInputs.Count > 0 ? $"; {signature.WeightInputs.Count} weights listed among the graph inputs were left out" : string.Empty;
        fromGraph.Add(new ImportFact("input", $"{input.Name} {input.ShapeText} float", $"{Text(layout)}, {channels} channel{(channels == 1 ? string.Empty : "s")}, {width}x{height}, batch {(batch == 1 ? "fixed at 1" : "dynamic")}{weights}"));

        var resize = request.Resize ?? preset.Resize;
        var spec = new PreprocessingSpec
        {
            Width = width,
            Height = height,
            Channels = channels,
            Layout = layout,
            ChannelOrder = request.ChannelOrder ?? preset.ChannelOrder,
            PixelScale = request.PixelScale ?? preset.PixelScale,
            Mean = PreprocessingPreset.ForChannels(request.Mean ?? preset.Mean, channels),
            Std = PreprocessingPreset.ForChannels(request.Std ?? preset.Std, channels),
            Resize = resize,
            ShorterSide = resize == ResizeMode.CenterCrop
                ? request.ShorterSide ?? (int)Math.Round(Math.Max(width, height) / preset.CropFraction)
                : null,
        };
        var specProblems = spec.Validate().ToList();
        if (specProblems.Count > 0)
            throw new ArgumentException("The preprocessing is not valid: " + string.Join("; ", specProblems));

        // One run on zeros: the output's real shape, whatever the graph declares.
        var outputShape = ProbeOutputShape(onnxPath, input, output, spec, runtime);
        long classes = outputShape[1];
        long[] manifestShape = outputShape.Length == 2
            ? [output.Shape.Count > 0 && output.Shape[0] == 1 ? 1 : -1, classes]
            : [output.Shape.Count > 0 && output.Shape[0] == 1 ? 1 : -1, classes, 1, 1];
        fromGraph.Add(new ImportFact("output", $"{output.Name} {output.ShapeText} float", $"{classes} classes"));

        var staging = Path.Combine(root, $".import-{request.Name}-{version}-{Guid.NewGuid():N}");
        try
        {
            Directory.CreateDirectory(staging);
            var onnxFile = Path.GetFileName(onnxPath);
            File.Copy(onnxPath, Path.Combine(staging, onnxFile));
            foreach (var external in signature.ExternalDataFiles)
                CopyExternalData(Path.GetDirectoryName(onnxPath)!, external, staging);
            WriteLabels(request.LabelsPath, classes, staging, guessed, fromGraph);

            var manifest = new ModelManifest
            {
                Name = request.Name,
                Version = version,
                Description = request.Description ?? $"{Path.GetFileNameWithoutExtension(onnxFile)}, imported with the {preset.Name} preset",
                OnnxFile = onnxFile,
                InputTensor = input.Name,
                OutputTensor = output.Name,
                OutputShape = manifestShape,
                Preprocessing = spec,
                Scores = ScoreKind.Logits,
                MinScore = request.MinScore,
                Labels = "labels.txt",
            };
            WriteManifest(staging, manifest);

            // One run through the real pipeline on a probe image: do the outputs already sum to one?
            var scores = ProbeScores(staging, runtime, preprocessor);
            var kind = request.Scores ?? GuessScores(scores, guessed);
            manifest = manifest with { Scores = kind };
            WriteManifest(staging, manifest);

            var validation = ModelPackageValidator.Validate(staging, runtime, preprocessor.Preprocess(ProbeImage(), spec, out _));
            if (!validation.IsValid)
                throw new ModelPackageException(staging, validation.Problems);

            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            Directory.Move(staging, target);
            return new ImportResult(target, manifest, fromGraph, guessed, validation with { Directory = target });
        }
        finally
        {
            if (Directory.Exists(staging))
                Directory.Delete(staging, recursive: true);
        }
    }

    /// <summary>A 256x256 colour gradient: an image every preprocessing can read, so the probe runs the whole path.</summary>
    public static byte[] ProbeImage()
    {
        using var bitmap = new SKBitmap(new SKImageInfo(256, 256, SKColorType.Rgba8888, SKAlphaType.Opaque));
        for (int y = 0; y < 256; y++)
        {
            for (int x = 0; x < 256; x++)
                bitmap.SetPixel(x, y, new SKColor((byte)x, (byte)y, (byte)(255 - ((x + y) / 2))));
        }

        using var data = bitmap.Encode(SKEncodedImageFormat.Png, 100);
        return data.ToArray();
    }

    /// <summary>Whether scores already are probabilities: every one in 0..1 and all summing to 1.</summary>
    public static bool LookLikeProbabilities(IReadOnlyList<float> scores)
    {
        ArgumentNullException.ThrowIfNull(scores);
        if (scores.Count == 0 || scores.Any(s => !float.IsFinite(s) || s < -1e-4f || s > 1f + 1e-4f))
            return false;
        return Math.Abs(scores.Sum(s => (double)s) - 1.0) <= 1e-3;
    }

    private static ScoreKind GuessScores(float[] scores, List<ImportFact> guessed)
    {
        double sum = scores.Sum(s => (double)s);
        bool probabilities = LookLikeProbabilities(scores);
        guessed.Add(probabilities
            ? new ImportFact("scores", "probabilities", string.Create(CultureInfo.InvariantCulture, $"on the probe image every output lies in 0..1 and they sum to {sum:F4}, so they are used as they are"))
            : new ImportFact("scores", "logits", string.Create(CultureInfo.InvariantCulture, $"on the probe image the outputs range {scores.Min():G4} to {scores.Max():G4} and sum to {sum:G6}, so softmax turns them into probabilities")));
        return probabilities ? ScoreKind.Probabilities : ScoreKind.Logits;
    }

    /// <summary>The preset a graph most likely wants: grayscale inputs take 0-1 pixels; otherwise the exporter tells the family, else the layout.</summary>
    private static (string Preset, string Reason) GuessPreset(string producer, TensorLayout layout, int channels)
    {
        if (channels == 1)
            return ("unit", "a grayscale input");
        var made = $"made by {(producer.Length > 0 ? producer : "an unnamed exporter")}";
        if (producer.Contains("caffe", StringComparison.OrdinalIgnoreCase))
            return ("caffe", made);
        if (producer.Contains("tf2onnx", StringComparison.OrdinalIgnoreCase) || producer.Contains("keras", StringComparison.OrdinalIgnoreCase) || producer.Contains("tensorflow", StringComparison.OrdinalIgnoreCase))
            return ("tensorflow", made);
        if (producer.Contains("pytorch", StringComparison.OrdinalIgnoreCase))
            return ("torchvision", made);
        return layout == TensorLayout.Nhwc
            ? ("tensorflow", $"{made}, with an NHWC input")
            : ("torchvision", $"{made}, with an NCHW colour input");
    }

    private static OnnxTensorInfo ChooseInput(OnnxSignature signature, string? named)
    {
        var inputs = string.Join(", ", signature.Inputs.Select(i => $"'{i.Name}' {i.ShapeText}"));
        OnnxTensorInfo input;
        if (named is not null)
        {
            input = signature.Inputs.FirstOrDefault(i => i.Name == named) ?? throw new ArgumentException(
                signature.WeightInputs.Contains(named, StringComparer.Ordinal)
                    ? $"'{named}' is a weight of the graph (listed among its inputs, as older exporters do), not an input; the graph's inputs: {inputs}"
                    : $"'{named}' is not an input of the graph; its inputs: {inputs}");
        }
        else
        {
            var images = signature.Inputs.Where(i => i.Shape.Count == 4).ToList();
            if (images.Count != 1)
            {
                throw new ArgumentException(images.Count == 0
                    ? $"The graph has no image input (4 dimensions); its inputs: {inputs}"
                    : $"The graph has {images.Count} image inputs ({string.Join(", ", images.Select(i => $"'{i.Name}' {i.ShapeText}"))}); name one with --input.");
            }

            input = images[0];
            if (signature.Inputs.Count > 1)
                throw new ArgumentException($"The graph has {signature.Inputs.Count} inputs ({inputs}); the app feeds one image input and nothing else.");
        }

        if (input.Shape.Count != 4)
            throw new ArgumentException($"Input '{input.Name}' has shape {input.ShapeText}; an image input has 4 dimensions ([N,C,H,W] or [N,H,W,C]).");
        if (input.ElementType != Onnx.TensorProto.Types.DataType.Float)
            throw new ArgumentException($"Input '{input.Name}' holds {input.ElementType}; the app feeds float tensors.");
        return input;
    }

    private static OnnxTensorInfo ChooseOutput(OnnxSignature signature, string? named)
    {
        var outputs = string.Join(", ", signature.Outputs.Select(o => $"'{o.Name}' {o.ShapeText}"));
        if (named is not null)
            return signature.Outputs.FirstOrDefault(o => o.Name == named) ?? throw new ArgumentException($"'{named}' is not an output of the graph; its outputs: {outputs}");
        if (signature.Outputs.Count == 1)
            return signature.Outputs[0];
        return signature.Outputs.FirstOrDefault(o => o.ElementType == Onnx.TensorProto.Types.DataType.Float && (o.Shape.Count == 2 || (o.Shape.Count == 4 && o.Shape[2] is 1 or -1 && o.Shape[3] is 1 or -1)))
            ?? throw new ArgumentException($"No output of the graph holds class scores ([N,C] or [N,C,1,1] floats); its outputs: {outputs}. Name one with --output.");
    }

    /// <summary>Layout, channels, height and width from an input's shape; -1 where the graph leaves a size open.</summary>
    private static (TensorLayout Layout, int Channels, int Height, int Width) ReadInputShape(OnnxTensorInfo input, TensorLayout? given, TensorLayout? presetLayout)
    {
        var s = input.Shape;
        static bool IsChannels(long d) => d is 1 or 3;
        TensorLayout layout;
        if (given is { } g)
            layout = g;
        else if (IsChannels(s[1]) && !IsChannels(s[3]))
            layout = TensorLayout.Nchw;
        else if (IsChannels(s[3]) && !IsChannels(s[1]))
            layout = TensorLayout.Nhwc;
        else if (s[1] < 0 && s[3] < 0)
            layout = presetLayout ?? TensorLayout.Nchw;
        else if (IsChannels(s[1]) && IsChannels(s[3]))
            layout = presetLayout ?? TensorLayout.Nchw;
        else
            throw new ArgumentException($"Input '{input.Name}' {input.ShapeText} has no dimension of 1 or 3 channels where NCHW or NHWC puts it; the app reads grayscale (1) or colour (3) images. Pass --layout if the graph leaves the channels open.");

        long c = layout == TensorLayout.Nchw ? s[1] : s[3];
        if (c < 0)
            c = 3;
        if (!IsChannels(c))
            throw new ArgumentException($"Input '{input.Name}' {input.ShapeText} read as {Text(layout)} has {c} channels; the app reads 1 or 3.");
        long h = layout == TensorLayout.Nchw ? s[2] : s[1];
        long w = layout == TensorLayout.Nchw ? s[3] : s[2];
        return (layout, (int)c, (int)h, (int)w);
    }

    private static int SizeOf(int fromGraph, int? given, string what, List<ImportFact> guessed)
    {
        if (fromGraph > 0)
        {
            if (given is { } g && g != fromGraph)
                throw new ArgumentException($"--size gives a {what} of {g}, but the graph fixes it at {fromGraph}.");
            return fromGraph;
        }

        if (given is { } size)
            return size;
        guessed.Add(new ImportFact(what, DefaultSize.ToString(CultureInfo.InvariantCulture), $"the graph leaves the {what} open (--size)"));
        return DefaultSize;
    }

    private static long[] ProbeOutputShape(string onnxPath, OnnxTensorInfo input, OnnxTensorInfo output, PreprocessingSpec spec, OnnxRuntimeOptions runtime)
    {
        long[] dims = [.. InferencePipeline.InputDims(spec).Select(d => (long)d)];
        using var options = runtime.CreateSessionOptions();
        try
        {
            using var session = new InferenceSession(onnxPath, options);
            using var tensor = OrtValue.CreateTensorValueFromMemory(new float[spec.TensorLength], dims);
            using var runOptions = new RunOptions();
            using var results = session.Run(runOptions, [input.Name], [tensor], [output.Name]);
            var shape = results[0].GetTensorTypeAndShape().Shape;
            bool fits = (shape.Length == 2 || (shape.Length == 4 && shape[2] == 1 && shape[3] == 1)) && shape[0] == 1 && shape[1] > 0;
            if (!fits)
                throw new ArgumentException($"Output '{output.Name}' came out as [{string.Join(",", shape)}] for one image; the app reads class scores shaped [N,C] or [N,C,1,1].");
            return shape;
        }
        catch (OnnxRuntimeException ex)
        {
            throw new ArgumentException($"ONNX Runtime could not run the model on one {spec.Width}x{spec.Height} image shaped [{string.Join(",", dims)}]: {ex.Message}", ex);
        }
    }

    private static float[] ProbeScores(string directory, OnnxRuntimeOptions runtime, ImagePreprocessor preprocessor)
    {
        var package = ModelPackage.Open(directory);
        using var pipeline = InferencePipeline.Create(package, runtime);
        using var engine = pipeline.CreateEngine();
        var tensor = preprocessor.Preprocess(ProbeImage(), package.Manifest.Preprocessing, out _);
        return engine.Predict(new TensorInput { Pixels = tensor }).Scores;
    }

    private static void WriteLabels(string? labelsPath, long classes, string directory, List<ImportFact> guessed, List<ImportFact> fromGraph)
    {
        var target = Path.Combine(directory, "labels.txt");
        if (labelsPath is null)
        {
            File.WriteAllLines(target, Enumerable.Range(0, (int)classes).Select(i => i.ToString(CultureInfo.InvariantCulture)));
            guessed.Add(new ImportFact("labels", $"0 to {classes - 1}", "no --labels: each class is named by its index"));
            return;
        }

        var labels = ModelPackage.ReadLabels(Path.GetFullPath(labelsPath));
        if (labels.Length != classes)
            throw new ArgumentException($"{Path.GetFileName(labelsPath)} has {labels.Length} labels, but the model's output has {classes} classes.");
        File.Copy(labelsPath, target);
        var raw = File.ReadLines(labelsPath).FirstOrDefault(l => l.Trim().Length > 0)?.Trim();
        var format = raw is not null && raw != labels[0] ? $" (synset lines: the WordNet ids are dropped, so '{raw}' reads '{labels[0]}')" : string.Empty;
        var repeats = labels.Length - labels.Distinct(StringComparer.Ordinal).Count();
        fromGraph.Add(new ImportFact("labels", $"{labels.Length} from {Path.GetFileName(labelsPath)}", $"one per class{format}{(repeats > 0 ? $"; {repeats} repeat, told apart by class index" : string.Empty)}"));
    }

    private static void CopyExternalData(string sourceDirectory, string relative, string targetDirectory)
    {
        var source = Path.GetFullPath(Path.Combine(sourceDirectory, relative));
        var target = Path.GetFullPath(Path.Combine(targetDirectory, relative));
        if (!source.StartsWith(sourceDirectory + Path.DirectorySeparatorChar, StringComparison.Ordinal) || !target.StartsWith(targetDirectory + Path.DirectorySeparatorChar, StringComparison.Ordinal))
            throw new ArgumentException($"The model's external data '{relative}' lies outside its folder.");
        Directory.CreateDirectory(Path.GetDirectoryName(target)!);
        File.Copy(source, target);
    }

    private static void WriteManifest(string directory, ModelManifest manifest) =>
        File.WriteAllText(Path.Combine(directory, ModelManifest.FileName), manifest.ToJson() + Environment.NewLine);

    private static string NextVersion(string modelDirectory, List<ImportFact> guessed)
    {
        var numbers = Directory.Exists(modelDirectory)
            ? Directory.EnumerateDirectories(modelDirectory).Select(Path.GetFileName).Select(v => long.TryParse(v, NumberStyles.None, CultureInfo.InvariantCulture, out var n) ? n : 0).ToList()
            : [];
        var version = ((numbers.Count == 0 ? 0 : numbers.Max()) + 1).ToString(CultureInfo.InvariantCulture);
        if (numbers.Count > 0)
            guessed.Add(new ImportFact("version", version, $"no --version: the next after {numbers.Max()}"));
        return version;
    }

    private static void CheckName(string value, string option)
    {
        if (string.IsNullOrWhiteSpace(value) || value.StartsWith('.') || value.Any(c => !(char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.')))
            throw new ArgumentException($"{option} '{value}' must be letters, digits, '-', '_' or '.' (and not start with '.').");
    }

    private static string Text(TensorLayout layout) => layout == TensorLayout.Nchw ? "NCHW" : "NHWC";
}

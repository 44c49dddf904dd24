using System.Globalization;
using FunctionApp.Imaging;
using FunctionApp.Inference;
using Google.Protobuf;
using Onnx;

namespace FunctionApp.Quantization;

/// <summary>What <c>models quantize</c> was asked: the float package, the calibration images, and where the new version goes.</summary>
public sealed record QuantizeRequest(string SourceDirectory, string CalibrationDirectory, string Root)
{
    /// <summary>The new version's name; by default the next number after the newest under the model's folder.</summary>
    public string? Version { get; init; }

    /// <summary>At most this many calibration images are used, spread evenly over the folder's files in name order.</summary>
    public int MaxCalibrationImages { get; init; } = 500;

    public CalibrationMethod Method { get; init; } = CalibrationMethod.MinMax;

    /// <summary>The percentile kept on each side with <see cref="CalibrationMethod.Percentile"/>.</summary>
    public double Percentile { get; init; } = ActivationCalibrator.DefaultPercentile;

    public QuantType Activations { get; init; } = QuantType.U8;

    /// <summary>Nodes (by name or first output) kept in float.</summary>
    public IReadOnlySet<string> Excluded { get; init; } = new HashSet<string>(StringComparer.Ordinal);

    /// <summary>Quantize the layer that reads the image too (see <see cref="QdqOptions.KeepInputLayerFloat"/>); by default it stays float, unless nothing else could be quantized.</summary>
    public bool QuantizeInputLayer { get; init; }

    /// <summary>Give no Add its own quantized output (see <see cref="QdqOptions.KeepAddsFloat"/>); on by default.</summary>
    public bool KeepAddsFloat { get; init; } = true;

    /// <summary>Correct each quantized layer's bias for the shift quantization gives its channel means on the calibration images (see <see cref="BiasCorrection"/>).</summary>
    public bool BiasCorrection { get; init; } = true;

    /// <summary>Round each quantized convolution's weights up or down for least output error on the calibration images, not to the nearest step (see <see cref="Quantization.WeightRounding"/>).</summary>
    public bool WeightRounding { get; init; } = true;
}

/// <summary>The new version: where it is, its manifest, what calibration read and what the rewrite did.</summary>
public sealed record QuantizeResult(string Directory, ModelManifest Manifest, int CalibrationImages, int UnreadableImages, QdqSummary Summary, IReadOnlyList<string> Notes, long FloatBytes, long QuantizedBytes);

/// <summary>
/// Makes an int8 version of a model package: the ONNX graph is prepared (BatchNormalization folded, opset 13),
/// calibrated on the user's images run through the package's own preprocessing (so the ranges are those serving
/// sees), rewritten with QuantizeLinear/DequantizeLinear pairs, and written beside the float version with the same
/// labels, head and preprocessing. The package is validated like <c>models validate</c> before it appears under the
/// models root.
/// </summary>
public static class PackageQuantizer
{
    private static readonly HashSet<string> ImageExtensions = new(StringComparer.OrdinalIgnoreCase) { ".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp" };

    /// <exception cref="ArgumentException">The request, the images or the graph cannot make an int8 version (the message says why).</exception>
    /// <exception cref="ModelPackageException">The source package or the package written does not validate.</exception>
    public static QuantizeResult Quantize(QuantizeRequest request, OnnxRuntimeOptions runtime, ImagePreprocessor preprocessor, IProgress<(int Done, int Total)>? progress = null, IProgress<(int Done, int Total)>? roundingProgress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(runtime);
        ArgumentNullException.ThrowIfNull(preprocessor);
        if (request.MaxCalibrationImages < 1)
            throw new ArgumentException("At least one calibration image is needed.");
        var source = ModelPackage.Open(request.SourceDirectory);
        if (source.IsSliced)
            throw new ArgumentException($"{source.Name} version {source.Version} is sliced; quantize the whole model, then slice the int8 version.");
        var manifest = source.Manifest;
        var spec = manifest.Preprocessing;

        var root = Path.GetFullPath(request.Root);
        var modelDirectory = Path.Combine(root, source.Name);
        var version = request.Version ?? NextVersion(modelDirectory);
        if (string.IsNullOrWhiteSpace(version) || version.StartsWith('.') || version.Any(c => !(char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.')))
            throw new ArgumentException($"--version '{version}' must be letters, digits, '-', '_' or '.' (and not start with '.').");
        var target = Path.Combine(modelDirectory, version);
        if (Directory.Exists(target))
            throw new ArgumentException($"{target} already exists; choose another --version (or remove it).");

        var images = CalibrationFiles(request.CalibrationDirectory, request.MaxCalibrationImages);

        ModelProto original;
        try
        {
            original = ModelProto.Parser.ParseFrom(File.ReadAllBytes(source.OnnxPath));
        }
        catch (InvalidProtocolBufferException ex)
        {
            throw new ArgumentException($"{manifest.OnnxFile} is not an ONNX model: {ex.Message}", ex);
        }

        var notes = new List<string>();
        ModelProto prepared;
        try
        {
            prepared = GraphPreparation.Prepare(original, notes);
        }
        catch (NotSupportedException ex)
        {
            throw new ArgumentException(ex.Message, ex);
        }

        long[] inputShape = [.. InferencePipeline.InputDims(spec).Select(d => (long)d)];
        IReadOnlyDictionary<string, TensorRange> ranges;
        int used = 0, unreadable = 0;
        var tensors = new List<float[]>();
        using (var calibrator = new ActivationCalibrator(prepared, manifest.InputTensor, inputShape, request.Method, runtime.EffectiveIntraOpThreads, request.Percentile))
        {
            foreach (var file in images)
            {
                cancellationToken.ThrowIfCancellationRequested();
                float[] tensor;
                try
                {
                    tensor = preprocessor.Preprocess(File.ReadAllBytes(file), spec, out _);
                }
                catch (ImageInputException)
                {
                    unreadable++;
                    progress?.Report((used + unreadable, images.Count));
                    continue;
                }

                calibrator.Add(tensor);
                if (request.BiasCorrection || request.WeightRounding)
                    tensors.Add(tensor);
                used++;
                progress?.Report((used + unreadable, images.Count));
            }

            if (used == 0)
                throw new ArgumentException($"None of the {images.Count} images in {Path.GetFullPath(request.CalibrationDirectory)} could be read; calibration needs images like those the model will serve.");
            ranges = calibrator.Ranges();
        }

        var options = new QdqOptions { Activations = request.Activations, Excluded = request.Excluded, KeepInputLayerFloat = !request.QuantizeInputLayer, KeepAddsFloat = request.KeepAddsFloat };
        ModelProto Rewrite(QdqOptions o, out QdqSummary s)
        {
            if (request.WeightRounding)
            {
                var rounded = Quantization.WeightRounding.OptimizeSequential(prepared, ranges, o, manifest.InputTensor, inputShape, tensors, runtime.EffectiveIntraOpThreads, onDepth: (done, total) => roundingProgress?.Report((done, total)), cancellationToken: cancellationToken);
                o = o with { RoundedWeights = rounded };
            }

            return request.BiasCorrection
                ? Quantization.BiasCorrection.Quantize(prepared, ranges, o, manifest.InputTensor, inputShape, tensors, runtime.EffectiveIntraOpThreads, out s, null, cancellationToken)
                : QdqQuantizer.Quantize(prepared, ranges, o, out s);
        }

        var quantized = Rewrite(options, out var summary);
        if (summary.TotalQuantized == 0 && options.KeepInputLayerFloat)
        {
            quantized = Rewrite(options with { KeepInputLayerFloat = false }, out summary);
            notes.Add("quantized the layer that reads the image as well: it is the only one with weights");
        }
        else if (options.KeepInputLayerFloat && prepared.Graph.Node.Any(n => n.OpType is "Conv" or "Gemm" or "MatMul" && prepared.Graph.Input.Any(i => i.Name == n.Input[0])))
        {
            notes.Add("kept the layer that reads the image float (--quantize-input-layer quantizes it too)");
        }
        if (summary.TotalQuantized == 0)
            throw new ArgumentException($"Nothing in {manifest.OnnxFile} can be quantized: it has no convolution, Gemm or MatMul with constant weights.");
        notes.Add(string.Create(CultureInfo.InvariantCulture, $"calibrated {ranges.Count} activations on {used} images ({(request.Method == CalibrationMethod.Percentile ? $"{request.Percentile}th percentile" : "min/max")})"));
        if (request.KeepAddsFloat && prepared.Graph.Node.Any(n => n.OpType == "Add"))
            notes.Add("gave no Add its own quantized output (those a quantized node reads are fused by ONNX Runtime; the others stay float)");
        if (summary.RoundedWeights > 0)
            notes.Add(string.Create(CultureInfo.InvariantCulture, $"rounded the weights of {summary.RoundedWeights} {(summary.RoundedWeights == 1 ? "convolution" : "convolutions")} up or down for least output error on the calibration images"));
        if (summary.BiasCorrected > 0)
            notes.Add(string.Create(CultureInfo.InvariantCulture, $"corrected {summary.BiasCorrected} {(summary.BiasCorrected == 1 ? "bias" : "biases")} for the shift quantization gives each channel's mean on the calibration images, layer by layer"));

        var staging = Path.Combine(root, $".quantize-{source.Name}-{version}-{Guid.NewGuid():N}");
        try
        {
            Directory.CreateDirectory(staging);
            foreach (var file in Directory.EnumerateFiles(source.Directory, "*", SearchOption.AllDirectories))
            {
                var relative = Path.GetRelativePath(source.Directory, file);
                if (relative == ModelManifest.FileName || relative == manifest.OnnxFile)
                    continue;
                var copy = Path.Combine(staging, relative);
                Directory.CreateDirectory(Path.GetDirectoryName(copy)!);
                File.Copy(file, copy);
            }

            var onnxFile = Path.GetFileNameWithoutExtension(manifest.OnnxFile) + ".int8.onnx";
            var bytes = quantized.ToByteArray();
            File.WriteAllBytes(Path.Combine(staging, onnxFile), bytes);
            var typeName = request.Activations == QuantType.U8 ? "uint8" : "int8";
            var description = string.Create(CultureInfo.InvariantCulture, $"{manifest.Description ?? source.Name} (int8: static QDQ, {typeName} activations calibrated on {used} images, from version {source.Version})");
            var newManifest = manifest with { Version = version, OnnxFile = onnxFile, Description = description, Files = null };
            File.WriteAllText(Path.Combine(staging, ModelManifest.FileName), newManifest.ToJson() + Environment.NewLine);

            var validation = ModelPackageValidator.Validate(staging, runtime);
            if (!validation.IsValid)
                throw new ModelPackageException(staging, validation.Problems);

            Directory.CreateDirectory(modelDirectory);
            Directory.Move(staging, target);
            return new QuantizeResult(target, newManifest, used, unreadable, summary, notes, new FileInfo(source.OnnxPath).Length, bytes.Length);
        }
        finally
        {
            if (Directory.Exists(staging))
                Directory.Delete(staging, recursive: true);
        }
    }

    /// <summary>Up to <paramref name="max"/> image files under a folder (any depth), spread evenly over them in name order so that every class folder is represented.</summary>
    public static IReadOnlyList<string> CalibrationFiles(string directory, int max)
    {
        var full = Path.GetFullPath(directory);
        if (!Directory.Exists(full))
            throw new DirectoryNotFoundException($"The calibration folder '{full}' does not exist.");
        var files = Directory.EnumerateFiles(full, "*", SearchOption.AllDirectories)
            .Where(f => ImageExtensions.Contains(Path.GetExtension(f)))
            .Order(StringComparer.Ordinal)
            .ToList();
        if (files.Count == 0)
            throw new ArgumentException($"The calibration folder '{full}' holds no images (.jpg, .png, .bmp, .gif or .webp).");
        if (files.Count <= max)
            return files;
        return Enumerable.Range(0, max).Select(i => files[(int)((long)i * files.Count / max)]).ToList();
    }

    private static string NextVersion(string modelDirectory)
    {
        var numbers = Directory.Exists(modelDirectory)
            ? Directory.EnumerateDirectories(modelDirectory).Select(Path.GetFileName).Select(v => long.TryParse(v, NumberStyles.None, CultureInfo.InvariantCulture, out var n) ? n : 0).ToList()
            : [];
        return ((numbers.Count == 0 ? 0 : numbers.Max()) + 1).ToString(CultureInfo.InvariantCulture);
    }
}

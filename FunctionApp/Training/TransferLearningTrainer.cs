using System.Diagnostics;
using FunctionApp.Imaging;
using FunctionApp.Inference;
using Microsoft.Extensions.Logging;
using Microsoft.ML.Data;
using Microsoft.ML;

namespace FunctionApp.Training;

/// <summary>What <c>train</c> should do.</summary>
public sealed record TrainingRequest(
    string DataDirectory,
    string OutputDirectory,
    string Name,
    string Version,
    int? MaxPerClass = null,
    double HoldoutFraction = 0.1,
    int Seed = 1,
    string? Description = null)
{
    /// <summary>Told how many images have been featurized, out of how many.</summary>
    public IProgress<(int Done, int Total)>? Progress { get; init; }
}

/// <summary>What training produced, written beside the package as <c>training.json</c>.</summary>
public sealed record TrainingReport(
    string Featurizer,
    IReadOnlyList<string> Classes,
    int TrainImages,
    int HoldoutImages,
    int UnreadableImages,
    double? HoldoutAccuracy,
    double FeaturizeSeconds,
    double FitSeconds);

/// <summary>
/// Transfer learning: an ONNX featurizer (any model package, used up to its output tensor) turns each
/// labelled image into features through the same preprocessing and pipeline as serving; an ML.NET
/// multiclass head (min-max normalisation, then L-BFGS maximum entropy) learns the classes; the result
/// is a new model package with the featurizer's ONNX file, the head, labels and manifest.
/// </summary>
public sealed partial class TransferLearningTrainer(ImagePreprocessor preprocessor, ILoggerFactory loggerFactory)
{
    private const string LabelColumn = "Label";
    private readonly ILogger _logger = loggerFactory.CreateLogger<TransferLearningTrainer>();

    public async Task<TrainingReport> TrainAsync(ModelPackage featurizer, TrainingRequest request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(featurizer);
        ArgumentNullException.ThrowIfNull(request);
        if (request.HoldoutFraction is < 0 or >= 1)
            throw new ArgumentException("The hold-out fraction must be at least 0 and below 1.", nameof(request));
        if (featurizer.Use != PackageUse.Featurizer)
            featurizer = ModelPackage.Open(featurizer.Directory, PackageUse.Featurizer);

        var folder = LabelledImageFolder.Scan(request.DataDirectory, request.MaxPerClass);
        LogScanned(folder.Images.Count, folder.Classes.Count, folder.Root);

        // Throughput over latency: one image per core, each inference on one thread.
        var runtime = new OnnxRuntimeOptions { IntraOpThreads = 1 };
        await using var pool = new EnginePool(
            featurizer.Name,
            featurizer.Version,
            () => InferencePipeline.Create(featurizer, runtime),
            new EnginePoolOptions { MaxEngines = Environment.ProcessorCount },
            loggerFactory.CreateLogger<EnginePool>());
        var pipeline = await pool.GetPipelineAsync(cancellationToken);

        var stopwatch = Stopwatch.StartNew();
        var (features, unreadable) = await FeaturizeAsync(folder.Images, folder.Classes, featurizer.Manifest.Preprocessing, pool, request.Progress, cancellationToken);
        var featurizeTime = stopwatch.Elapsed;
        LogFeaturized(features.Count, featurizeTime.TotalSeconds, unreadable);

        var ml = new MLContext(seed: request.Seed);
        var shuffled = features.OrderBy(_ => 0).ToList();
        new Random(request.Seed).Shuffle(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(shuffled));
        int holdout = (int)Math.Round(shuffled.Count * request.HoldoutFraction);
        var train = shuffled.Skip(holdout).ToList();
        var test = shuffled.Take(holdout).ToList();

        var schema = SchemaDefinition.Create(typeof(FeatureRow));
        schema[nameof(FeatureRow.Features)].ColumnType = pipeline.FeatureType;

        // Class names become keys in folder order, so score slot i is classes[i] (the labels file order).
        // The mapping is fitted apart from the head: the saved head reads only Features.
        var keys = ml.Data.LoadFromEnumerable(folder.Classes.Select(c => new ClassName { Value = c }));
        var toKey = ml.Transforms.Conversion.MapValueToKey(LabelColumn, nameof(FeatureRow.ClassName), keyData: keys)
            .Fit(ml.Data.LoadFromEnumerable(train.Take(1), schema));
        var trainView = toKey.Transform(ml.Data.LoadFromEnumerable(train, schema));

        stopwatch.Restart();
        var estimator = ml.Transforms.NormalizeMinMax(HeadSpec.FeaturesColumn)
            .AppendCacheCheckpoint(ml)
            .Append(ml.MulticlassClassification.Trainers.LbfgsMaximumEntropy(LabelColumn, HeadSpec.FeaturesColumn));
        var head = estimator.Fit(trainView);
        var fitTime = stopwatch.Elapsed;

        double? accuracy = null;
        if (test.Count > 0)
        {
            var metrics = ml.MulticlassClassification.Evaluate(head.Transform(toKey.Transform(ml.Data.LoadFromEnumerable(test, schema))), LabelColumn);
            accuracy = metrics.MicroAccuracy;
        }

        LogTrained(fitTime.TotalSeconds, accuracy ?? double.NaN);
        var headInput = ml.Data.LoadFromEnumerable(Array.Empty<FeatureRow>(), schema).Schema;
        WritePackage(featurizer, request, folder.Classes, ml, head, headInput);

        var report = new TrainingReport(featurizer.Name + "/" + featurizer.Version, folder.Classes, train.Count, test.Count, unreadable, accuracy, featurizeTime.TotalSeconds, fitTime.TotalSeconds);
        await File.WriteAllTextAsync(Path.Combine(request.OutputDirectory, "training.json"), System.Text.Json.JsonSerializer.Serialize(report, ModelManifest.SerializerOptions), cancellationToken);
        return report;
    }

    private async Task<(List<FeatureRow> Rows, int Unreadable)> FeaturizeAsync(IReadOnlyList<LabelledImage> images, IReadOnlyList<string> classes, PreprocessingSpec spec, EnginePool pool, IProgress<(int Done, int Total)>? progress, CancellationToken cancellationToken)
    {
        var rows = new FeatureRow?[images.Count];
        int unreadable = 0, done = 0;
        await Parallel.ForAsync(0, images.Count, new ParallelOptions { MaxDegreeOfParallelism = Environment.ProcessorCount, CancellationToken = cancellationToken }, async (i, ct) =>
        {
            var image = images[i];
            try
            {
                var bytes = await File.ReadAllBytesAsync(image.Path, ct);
                var tensor = preprocessor.Preprocess(bytes, spec, out _);
                var features = await pool.ScoreAsync(tensor, ct);
                rows[i] = new FeatureRow { Features = features, ClassName = classes[image.ClassIndex] };
            }
            catch (ImageInputException ex)
            {
                Interlocked.Increment(ref unreadable);
                LogUnreadable(image.Path, ex.Message);
            }

            int finished = Interlocked.Increment(ref done);
            progress?.Report((finished, images.Count));
            if (finished % 1000 == 0)
                LogProgress(finished, images.Count);
        });
        return (rows.OfType<FeatureRow>().ToList(), unreadable);
    }

    private static void WritePackage(ModelPackage featurizer, TrainingRequest request, IReadOnlyList<string> classes, MLContext ml, ITransformer head, DataViewSchema inputSchema)
    {
        var output = Path.GetFullPath(request.OutputDirectory);
        Directory.CreateDirectory(output);
        const string headFile = "head.zip";
        const string labelsFile = "labels.txt";
        var onnxFile = Path.GetFileName(featurizer.Manifest.OnnxFile);
        var onnxTarget = Path.Combine(output, onnxFile);
        if (!string.Equals(Path.GetFullPath(featurizer.OnnxPath), onnxTarget, StringComparison.Ordinal))
            File.Copy(featurizer.OnnxPath, onnxTarget, overwrite: true);

        ml.Model.Save(head, inputSchema, Path.Combine(output, headFile));
        File.WriteAllLines(Path.Combine(output, labelsFile), classes);
        var manifest = featurizer.Manifest with
        {
            Name = request.Name,
            Version = request.Version,
            Description = request.Description ?? $"{featurizer.Name} features with an ML.NET head trained on {classes.Count} classes",
            OnnxFile = onnxFile,
            Head = new HeadSpec { File = headFile },
            Scores = ScoreKind.Probabilities,
            Labels = labelsFile,
        };
        File.WriteAllText(Path.Combine(output, ModelManifest.FileName), manifest.ToJson() + Environment.NewLine);
    }

    private sealed class FeatureRow
    {
        public float[] Features { get; set; } = [];
        public string ClassName { get; set; } = string.Empty;
    }

    private sealed class ClassName
    {
        public string Value { get; set; } = string.Empty;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Found {Images} images in {Classes} classes under {Root}")]
    private partial void LogScanned(int images, int classes, string root);

    [LoggerMessage(Level = LogLevel.Information, Message = "Featurized {Done} of {Total} images")]
    private partial void LogProgress(int done, int total);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Skipped {Path}: {Reason}")]
    private partial void LogUnreadable(string path, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "Featurized {Images} images in {Seconds:F1} s ({Unreadable} unreadable)")]
    private partial void LogFeaturized(int images, double seconds, int unreadable);

    [LoggerMessage(Level = LogLevel.Information, Message = "Fitted the head in {Seconds:F1} s; hold-out accuracy {Accuracy:P2}")]
    private partial void LogTrained(double seconds, double accuracy);
}

using System.Diagnostics;
using FunctionApp.Imaging;
using FunctionApp.Inference;
using FunctionApp.Models;
using FunctionApp.Telemetry;
using Microsoft.Extensions.Options;

namespace FunctionApp.Classification;

/// <summary>Time spent per stage for one image, in milliseconds.</summary>
public sealed record StageTimings(double DecodeMs, double PreprocessMs, double InferenceMs);

/// <summary>
/// The answer for one image: its top labels, or why it could not be classified. <paramref name="LowConfidence"/> is
/// true (and otherwise null, so JSON leaves it out) when the top score is below the confidence floor.
/// </summary>
public sealed record ImagePrediction(string? Name, IReadOnlyList<LabelScore>? Top, StageTimings? Timings, ImageInputError? ErrorKind = null, string? Error = null, bool? LowConfidence = null)
{
    [System.Text.Json.Serialization.JsonIgnore]
    public bool Succeeded => Top is not null;
}

/// <summary>Answers for one or more images from one model version.</summary>
public sealed record PredictionResult(string Model, string Version, IReadOnlyList<ImagePrediction> Images);

/// <summary>One image's class probabilities, or why it could not be scored.</summary>
public sealed record ScoredImage(float[] Probabilities, StageTimings? Timings, ImageInputException? Error);

/// <summary>Probabilities for several images from one model version, with the package that produced them.</summary>
public sealed record ScoredImages(string Model, string Version, ModelPackage Package, IReadOnlyList<ScoredImage> Images);

/// <summary>An encoded image and the name it goes by (file name, form field, blob name).</summary>
public sealed record NamedImage(string? Name, ReadOnlyMemory<byte> Data);

/// <summary>
/// The one code path from encoded image bytes to ranked labels, used by every door: the CLI, the HTTP
/// functions, the self-hosted server and the blob processors.
/// </summary>
public sealed partial class ImageClassifier(
    ModelCatalog catalog,
    EnginePoolRegistry pools,
    ImagePreprocessor preprocessor,
    IOptions<PredictionOptions> options,
    InferenceMetrics metrics,
    Microsoft.Extensions.Logging.ILogger<ImageClassifier> logger)
{
    private readonly PredictionOptions _options = options.Value;

    /// <summary>Classifies one image with a model from the catalog.</summary>
    /// <exception cref="ModelNotFoundException">No such model or version.</exception>
    /// <exception cref="ModelLoadException">The model could not be loaded.</exception>
    /// <exception cref="ImageInputException">The image breaks a limit or cannot be decoded.</exception>
    public Task<PredictionResult> ClassifyAsync(NamedImage image, string? model = null, string? version = null, int? topK = null, CancellationToken cancellationToken = default) =>
        ClassifyAsync(image, catalog.Resolve(model, version), topK, cancellationToken);

    /// <inheritdoc cref="ClassifyAsync(NamedImage, string?, string?, int?, CancellationToken)"/>
    public Task<PredictionResult> ClassifyAsync(NamedImage image, ModelEntry entry, int? topK = null, CancellationToken cancellationToken = default) =>
        ClassifyAsync(image, entry, topK, minScore: null, cancellationToken);

    /// <summary>Classifies one image; <paramref name="minScore"/> replaces the model's confidence floor (its manifest's <c>minScore</c>) for this call.</summary>
    /// <inheritdoc cref="ClassifyAsync(NamedImage, string?, string?, int?, CancellationToken)"/>
    public async Task<PredictionResult> ClassifyAsync(NamedImage image, ModelEntry entry, int? topK, float? minScore, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(image);
        int k = ResolveTopK(topK);
        return await WithPoolAsync(entry, pool => ClassifyOnAsync(pool, image, k, minScore, cancellationToken));
    }

    /// <summary>True when a floor applies and the best score is under it; null otherwise, so that answers leave it out.</summary>
    private static bool? BelowFloor(IReadOnlyList<LabelScore> top, float? floor) =>
        floor is { } f && top.Count > 0 && top[0].Score < f ? true : null;

    private async Task<PredictionResult> ClassifyOnAsync(EnginePool pool, NamedImage image, int k, float? minScore, CancellationToken cancellationToken)
    {
        using var request = pool.BeginRequest();
        using var activity = InferenceActivity.Classify(pool.Model, pool.Version, 1);

        // While the model is still loading (a cold start), the image is decoded meanwhile, by the catalog's copy of the
        // version's preprocessing spec; the loaded package's spec is what counts, so a different one means decoding again.
        var early = pool.IsLoaded ? null : catalog.Snapshot.Find(pool.Model, pool.Version)?.Package?.Manifest.Preprocessing;
        (float[] Tensor, PreprocessTimings Timings)? decoded = null;
        InferencePipeline pipeline;
        if (early is null)
        {
            pipeline = await pool.GetPipelineAsync(cancellationToken);
        }
        else
        {
            var loading = pool.GetPipelineAsync(cancellationToken).AsTask();
            try
            {
                decoded = await PreprocessAsync(pool, image, early, activity, cancellationToken);
            }
            catch
            {
                // The load goes on for later callers; its outcome is theirs to see.
                _ = loading.ContinueWith(static t => t.Exception, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted, TaskScheduler.Default);
                throw;
            }

            pipeline = await loading;
        }

        var manifest = pipeline.Package.Manifest;
        if (decoded is { } ready && !early!.SameAs(manifest.Preprocessing))
        {
            TensorBuffers.Return(ready.Tensor);
            decoded = null;
        }

        var (tensor, prep) = decoded ?? await PreprocessAsync(pool, image, manifest.Preprocessing, activity, cancellationToken);

        metrics.Preprocessed(pool.Model, pool.Version, prep.Decode + prep.Preprocess);
        long start = Stopwatch.GetTimestamp();
        float[] scores;
        try
        {
            scores = await pool.ScoreAsync(tensor, cancellationToken);
        }
        finally
        {
            // The engine copies its input: the tensor can serve the next request.
            TensorBuffers.Return(tensor);
        }

        var inference = Stopwatch.GetElapsedTime(start);

        var top = ScorePostprocessor.Rank(scores, manifest.Scores, pipeline.Package.Labels, k);
        var timings = new StageTimings(prep.Decode.TotalMilliseconds, prep.Preprocess.TotalMilliseconds, inference.TotalMilliseconds);
        return new PredictionResult(pool.Model, pool.Version, [new ImagePrediction(image.Name, top, timings, LowConfidence: BelowFloor(top, minScore ?? manifest.MinScore))]);
    }

    private async Task<(float[] Tensor, PreprocessTimings Timings)> PreprocessAsync(EnginePool pool, NamedImage image, PreprocessingSpec spec, Activity? activity, CancellationToken cancellationToken)
    {
        try
        {
            return await preprocessor.PreprocessAsync(image.Data, spec, cancellationToken);
        }
        catch (ImageInputException ex)
        {
            metrics.Failed(pool.Model, pool.Version, InferenceMetrics.Errors.InvalidImage);
            activity.Fail(ex);
            throw;
        }
    }

    /// <summary>
    /// Classifies many images as one batch: decoding and preprocessing run in parallel, inference runs
    /// once over every image that decoded. An image that cannot be used gets an error entry; the others
    /// are still answered.
    /// </summary>
    public Task<PredictionResult> ClassifyBatchAsync(IReadOnlyList<NamedImage> images, ModelEntry entry, int? topK = null, CancellationToken cancellationToken = default) =>
        ClassifyBatchAsync(images, entry, topK, minScore: null, cancellationToken);

    /// <summary>Classifies many images as one batch; <paramref name="minScore"/> replaces the model's confidence floor for this call.</summary>
    public async Task<PredictionResult> ClassifyBatchAsync(IReadOnlyList<NamedImage> images, ModelEntry entry, int? topK, float? minScore, CancellationToken cancellationToken = default)
    {
        int k = ResolveTopK(topK);
        var scored = await ScoreImagesAsync(images, entry, cancellationToken);
        var floor = minScore ?? scored.Package.Manifest.MinScore;
        var results = scored.Images.Select((image, i) =>
        {
            if (image.Error is { } error)
                return new ImagePrediction(images[i].Name, null, null, error.Error, error.Message);
            var top = ScorePostprocessor.TopK(image.Probabilities, scored.Package.Labels, k);
            return new ImagePrediction(images[i].Name, top, image.Timings, LowConfidence: BelowFloor(top, floor));
        }).ToList();
        return new PredictionResult(scored.Model, scored.Version, results);
    }

    /// <summary>Class probabilities for many images, one batch through the pipeline; per-image errors are kept.</summary>
    public Task<ScoredImages> ScoreImagesAsync(IReadOnlyList<NamedImage> images, ModelEntry entry, CancellationToken cancellationToken = default) =>
        ScoreImagesAsync(images, entry, InferencePriority.Interactive, cancellationToken);

    /// <inheritdoc cref="ScoreImagesAsync(IReadOnlyList{NamedImage}, ModelEntry, CancellationToken)"/>
    public async Task<ScoredImages> ScoreImagesAsync(IReadOnlyList<NamedImage> images, ModelEntry entry, InferencePriority priority, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(images);
        if (images.Count > _options.MaxBatchImages)
            throw new InvalidInferenceRequestException($"{images.Count} images is over the limit of {_options.MaxBatchImages} per request (Prediction:MaxBatchImages).");
        return await WithPoolAsync(entry, pool => ScoreImagesOnAsync(pool, images, priority, cancellationToken));
    }

    private async Task<ScoredImages> ScoreImagesOnAsync(EnginePool pool, IReadOnlyList<NamedImage> images, InferencePriority priority, CancellationToken cancellationToken)
    {
        using var activity = InferenceActivity.Classify(pool.Model, pool.Version, images.Count);
        var pipeline = await pool.GetPipelineAsync(cancellationToken);
        var manifest = pipeline.Package.Manifest;

        var tensors = new float[]?[images.Count];
        var prep = new PreprocessTimings[images.Count];
        var errors = new ImageInputException?[images.Count];
        await Parallel.ForAsync(0, images.Count, new ParallelOptions { CancellationToken = cancellationToken, MaxDegreeOfParallelism = Environment.ProcessorCount }, async (i, ct) =>
        {
            try
            {
                (tensors[i], prep[i]) = await preprocessor.PreprocessAsync(images[i].Data, manifest.Preprocessing, ct);
            }
            catch (ImageInputException ex)
            {
                errors[i] = ex;
            }
        });

        var valid = Enumerable.Range(0, images.Count).Where(i => tensors[i] is not null).ToArray();
        foreach (int i in valid)
            metrics.Preprocessed(pool.Model, pool.Version, prep[i].Decode + prep[i].Preprocess);
        if (valid.Length < images.Count)
            metrics.Failed(pool.Model, pool.Version, InferenceMetrics.Errors.InvalidImage, images.Count - valid.Length);
        long start = Stopwatch.GetTimestamp();
        var scores = valid.Length == 0 ? [] : await pool.ScoreBatchAsync(valid.Select(i => tensors[i]!).ToArray(), priority, cancellationToken);
        double perImageMs = valid.Length == 0 ? 0 : Stopwatch.GetElapsedTime(start).TotalMilliseconds / valid.Length;

        var results = new ScoredImage[images.Count];
        for (int i = 0; i < images.Count; i++)
        {
            if (errors[i] is { } error)
                results[i] = new ScoredImage([], null, error);
        }

        for (int j = 0; j < valid.Length; j++)
        {
            int i = valid[j];
            var timings = new StageTimings(prep[i].Decode.TotalMilliseconds, prep[i].Preprocess.TotalMilliseconds, perImageMs);
            results[i] = new ScoredImage(ScorePostprocessor.Probabilities(scores[j], manifest.Scores), timings, null);
        }

        return new ScoredImages(pool.Model, pool.Version, pipeline.Package, results);
    }

    /// <summary>Class probabilities for already preprocessed tensors (each of the manifest's tensor length).</summary>
    public async Task<ScoredImages> ScoreTensorsAsync(IReadOnlyList<float[]> tensors, ModelEntry entry, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(tensors);
        if (tensors.Count > _options.MaxBatchImages)
            throw new InvalidInferenceRequestException($"{tensors.Count} tensors is over the limit of {_options.MaxBatchImages} per request (Prediction:MaxBatchImages).");
        return await WithPoolAsync(entry, pool => ScoreTensorsOnAsync(pool, tensors, cancellationToken));
    }

    private static async Task<ScoredImages> ScoreTensorsOnAsync(EnginePool pool, IReadOnlyList<float[]> tensors, CancellationToken cancellationToken)
    {
        using var activity = InferenceActivity.Classify(pool.Model, pool.Version, tensors.Count);
        var pipeline = await pool.GetPipelineAsync(cancellationToken);
        int length = pipeline.Package.Manifest.Preprocessing.TensorLength;
        if (tensors.Any(t => t.Length != length))
            throw new InvalidInferenceRequestException($"Each tensor must hold {length} values.");

        long start = Stopwatch.GetTimestamp();
        var scores = await pool.ScoreBatchAsync(tensors, cancellationToken);
        double perImageMs = Stopwatch.GetElapsedTime(start).TotalMilliseconds / Math.Max(1, tensors.Count);
        var results = scores.Select(s => new ScoredImage(ScorePostprocessor.Probabilities(s, pipeline.Package.Manifest.Scores), new StageTimings(0, 0, perImageMs), null)).ToList();
        return new ScoredImages(pool.Model, pool.Version, pipeline.Package, results);
    }

    /// <summary>The package of a model version as its loaded pipeline holds it (loading the model if no caller has yet).</summary>
    public Task<ModelPackage> GetPackageAsync(ModelEntry entry, CancellationToken cancellationToken = default) =>
        WithPoolAsync(entry, async pool => (await pool.GetPipelineAsync(cancellationToken)).Package);

    /// <summary>
    /// A lease on the loaded pool that serves <paramref name="entry"/>: the entry's own, or, when an unpinned entry's
    /// version cannot load, the pool of the newest version that can (the broken one is rejected, with its reason).
    /// The caller disposes the lease when done with the pool.
    /// </summary>
    /// <exception cref="ModelLoadException">The pinned version, or every version of the model, failed to load.</exception>
    public async Task<PoolLease> LeaseLoadedPoolAsync(ModelEntry entry, CancellationToken cancellationToken = default)
    {
        while (true)
        {
            var lease = pools.Lease(entry);
            try
            {
                await lease.Pool.GetPipelineAsync(cancellationToken);
                return lease;
            }
            catch (ModelLoadException ex) when (!entry.Pinned && catalog.Reject(entry, ex.Reason) is { } fallback && fallback.Version != entry.Version)
            {
                lease.Dispose();
                LogFallback(entry.Name, entry.Version, fallback.Version, ex.Reason);
                entry = fallback;
            }
            catch
            {
                lease.Dispose();
                throw;
            }
        }
    }

    /// <summary>
    /// Runs work on the entry's pool under a lease, so a hot reload that retires the version meanwhile waits for the
    /// work instead of failing it. If an unpinned entry's version cannot load, it is rejected and the work runs on
    /// the newest version that loads.
    /// </summary>
    private async Task<T> WithPoolAsync<T>(ModelEntry entry, Func<EnginePool, Task<T>> work)
    {
        while (true)
        {
            try
            {
                using var lease = pools.Lease(entry);
                return await work(lease.Pool);
            }
            catch (ModelLoadException ex) when (!entry.Pinned && catalog.Reject(entry, ex.Reason) is { } fallback && fallback.Version != entry.Version)
            {
                LogFallback(entry.Name, entry.Version, fallback.Version, ex.Reason);
                entry = fallback;
            }
        }
    }

    [Microsoft.Extensions.Logging.LoggerMessage(Level = Microsoft.Extensions.Logging.LogLevel.Error, Message = "Model {Model} version {Version} does not load and is skipped; version {Fallback} serves instead: {Reason}")]
    private partial void LogFallback(string model, string version, string fallback, string reason);

    private int ResolveTopK(int? topK)
    {
        int k = topK ?? _options.DefaultTopK;
        if (k < 1)
            throw new InvalidInferenceRequestException($"'top' must be at least 1 (got {k}).");
        return k;
    }
}

using System.Diagnostics.Metrics;
using System.Diagnostics;

namespace FunctionApp.Telemetry;

/// <summary>
/// The app's own metrics, on the <see cref="MeterName"/> meter: model load time, preprocessing and inference
/// latency, predictions (and failures) per model version, and batch progress. Every host exports them through
/// OpenTelemetry: to Azure Monitor in Azure, to an OTLP endpoint when one is set, and at <c>/metrics</c> under
/// <c>serve</c>.
/// </summary>
public sealed class InferenceMetrics
{
    public const string MeterName = "ImageInference";

    /// <summary>Why a prediction failed, as the <c>error.type</c> tag says it.</summary>
    public static class Errors
    {
        public const string InvalidImage = "invalid_image";
        public const string ModelLoad = "model_load";
        public const string Inference = "inference";
    }

    // Seconds-scale buckets: the exporters' defaults are for milliseconds and would put every image in the first one.
    private static readonly InstrumentAdvice<double> LatencyBuckets = new()
    {
        HistogramBucketBoundaries = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 10],
    };

    private static readonly InstrumentAdvice<double> LoadBuckets = new()
    {
        HistogramBucketBoundaries = [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120],
    };

    private readonly Histogram<double> _modelLoad;
    private readonly Histogram<double> _preprocess;
    private readonly Histogram<double> _inference;
    private readonly Counter<long> _predictions;
    private readonly Counter<long> _batchImages;
    private readonly Counter<long> _batchJobs;
    private readonly Histogram<double> _sliceStep;

    public InferenceMetrics(IMeterFactory meterFactory)
    {
        ArgumentNullException.ThrowIfNull(meterFactory);
        var meter = meterFactory.Create(MeterName);
        _modelLoad = meter.CreateHistogram<double>("inference.model.load.duration", "s", "Time to load a model version (package read, pipeline built, ONNX session created).", advice: LoadBuckets);
        _preprocess = meter.CreateHistogram<double>("inference.preprocess.duration", "s", "Time to decode and preprocess one image into the model's input tensor.", advice: LatencyBuckets);
        _inference = meter.CreateHistogram<double>("inference.duration", "s", "Time to run the model on one preprocessed image.", advice: LatencyBuckets);
        _predictions = meter.CreateCounter<long>("inference.predictions", "{image}", "Images classified, by model version and outcome.");
        _batchImages = meter.CreateCounter<long>("inference.batch.images", "{image}", "Images a batch job has finished, by outcome.");
        _batchJobs = meter.CreateCounter<long>("inference.batch.jobs", "{job}", "Batch jobs that ended, by status.");
        _sliceStep = meter.CreateHistogram<double>("inference.slice.step.duration", "s", "Time to load, run and release one slice of a sliced model (one step of a slice chain).", advice: LoadBuckets);
    }

    public void ModelLoaded(string model, string version, TimeSpan elapsed) =>
        _modelLoad.Record(elapsed.TotalSeconds, Version(model, version));

    /// <summary>One slice of a chain ran (loaded, run and released).</summary>
    public void SliceStepRan(string model, string version, int step, TimeSpan elapsed)
    {
        var tags = Version(model, version);
        tags.Add("slice", step);
        _sliceStep.Record(elapsed.TotalSeconds, tags);
    }

    public void Preprocessed(string model, string version, TimeSpan elapsed) =>
        _preprocess.Record(elapsed.TotalSeconds, Version(model, version));

    /// <summary>One image scored: its inference time and one successful prediction.</summary>
    public void Scored(string model, string version, TimeSpan elapsed)
    {
        var tags = Version(model, version);
        _inference.Record(elapsed.TotalSeconds, tags);
        tags.Add("outcome", "success");
        _predictions.Add(1, tags);
    }

    public void Failed(string model, string version, string errorType, int images = 1)
    {
        var tags = Version(model, version);
        tags.Add("outcome", "failure");
        tags.Add("error.type", errorType);
        _predictions.Add(images, tags);
    }

    /// <summary>A chunk of a batch job is done: <paramref name="succeeded"/> images answered, <paramref name="failed"/> not.</summary>
    public void BatchProgress(string model, string version, int succeeded, int failed)
    {
        var tags = Version(model, version);
        if (succeeded > 0)
            _batchImages.Add(succeeded, WithOutcome(tags, "success"));
        if (failed > 0)
            _batchImages.Add(failed, WithOutcome(tags, "failure"));
    }

    /// <summary>A batch job ended: <c>finished</c> or <c>failed</c> (rejected before any image ran).</summary>
    public void BatchEnded(string status) => _batchJobs.Add(1, new KeyValuePair<string, object?>("status", status));

    private static TagList Version(string model, string version) => new()
    {
        { "model", model },
        { "model.version", version },
    };

    private static TagList WithOutcome(TagList tags, string outcome)
    {
        tags.Add("outcome", outcome);
        return tags;
    }
}

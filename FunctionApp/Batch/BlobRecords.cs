using FunctionApp.Inference;
using FunctionApp.Storage;

namespace FunctionApp.Batch;

/// <summary>
/// <c>predictions/{name}.json</c> for an image classified: the answer, and the upload it answers
/// (<see cref="BlobOutcomeStatus.Ok"/>).
/// </summary>
public sealed record BlobPrediction(string Name, string Status, string Model, string Version, IReadOnlyList<LabelScore> Top, StageTimings? Timings, SourceBlob Source, string? Preprocessed, bool? LowConfidence = null);

/// <summary>
/// <c>predictions/{name}.json</c> for an image that could not be classified (<see cref="BlobOutcomeStatus.Failed"/>):
/// why, and where its original is kept.
/// </summary>
public sealed record BlobFailure(string Name, string Status, string ErrorKind, string Error, SourceBlob Source, string Original);

/// <summary>The <c>status</c> of an outcome record.</summary>
public static class BlobOutcomeStatus
{
    public const string Ok = "ok";
    public const string Failed = "failed";
}

/// <summary>What one trigger did with one input.</summary>
public enum BlobOutcome
{
    /// <summary>Classified: a prediction is the input's outcome.</summary>
    Processed,

    /// <summary>This upload already has its outcome (a redelivered trigger).</summary>
    AlreadyProcessed,

    /// <summary>It could not be classified: a failure record is the input's outcome.</summary>
    Failed,

    /// <summary>The input is gone, or a newer upload replaced it (that upload has a trigger of its own).</summary>
    Missing,
}

using FunctionApp.Imaging;
using FunctionApp.Inference;

namespace FunctionApp.Batch;

/// <summary>The blob a result came from, so a result can be matched to the exact upload it describes.</summary>
public sealed record SourceBlob(string Container, string Name, string ETag, long Size);

/// <summary><c>predictions/{name}.json</c>: the answer for one dropped image.</summary>
public sealed record BlobPrediction(string Name, string Model, string Version, IReadOnlyList<LabelScore> Top, StageTimings? Timings, SourceBlob Source, string? Preprocessed);

/// <summary><c>images-failed/{name}.error.json</c>: why a dropped image could not be classified.</summary>
public sealed record BlobFailure(string Name, ImageInputError ErrorKind, string Error, SourceBlob Source, string MovedTo);

public enum BlobOutcome
{
    Processed,
    AlreadyProcessed,
    Failed,
    Missing,
}

using FunctionApp.Classification;
using FunctionApp.Inference;
using FunctionApp.Storage;

namespace FunctionApp.Blobs;

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

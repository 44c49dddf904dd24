using FunctionApp.Inference;
using FunctionApp.Storage;

namespace FunctionApp.Batch;

/// <summary>The <c>state</c> of a batch job.</summary>
public static class BatchJobState
{
    public const string Running = "running";
    public const string Finished = "finished";
    public const string Failed = "failed";
}

/// <summary>
/// <c>batch-results/{job}/progress.json</c>: the job's outcome record, rewritten after every chunk, by whichever instance
/// scored it. <c>done</c> counts the entries answered or failed so far, <c>failed</c> those among them that failed.
/// </summary>
public sealed record JobProgress(
    string Job,
    SourceBlob Source,
    string State,
    int Total,
    int Done,
    int Failed,
    int Chunks,
    int ChunksDone,
    double? ImagesPerSecond,
    DateTimeOffset Started,
    DateTimeOffset Updated,
    DateTimeOffset? Finished,
    string? Model,
    string? Version,
    string? Error);

/// <summary>One line of <c>results.jsonl</c>: an entry's answer (marked when under the model's confidence floor) or why it has none.</summary>
public sealed record BatchLine(int Index, string Entry, string Status, IReadOnlyList<LabelScore>? Top, string? ErrorKind, string? Error, bool? LowConfidence = null);

/// <summary><c>batch-results/{job}/parts/{chunk}.json</c>: one chunk's lines, and the instance that scored them.</summary>
public sealed record BatchPart(int Chunk, string Instance, IReadOnlyList<BatchLine> Lines);

/// <summary>
/// A queue message on <c>batch-chunks</c>: score these entries of this upload of this job with this model version. It
/// carries where each entry lives, so a worker reads only the bytes of its own entries.
/// </summary>
public sealed record ChunkWork(string Job, string ETag, long Size, int Chunk, string Model, string Version, IReadOnlyList<BatchEntry> Entries)
{
    public SourceBlob Source => new(StorageOptions.BatchesContainer, Job, ETag, Size);
}

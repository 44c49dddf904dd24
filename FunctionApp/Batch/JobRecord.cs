using System.Text.Json;
using Azure.Storage.Blobs;
using Azure;
using FunctionApp.Storage;

namespace FunctionApp.Batch;

/// <summary>
/// A job's progress record as stored: the JSON a user reads, plus what the instances sharing the job coordinate on, in
/// its metadata: which chunks are done (a bitmap) and the chunk size its plan used. Updated by compare-and-swap on the
/// blob's ETag, so two instances finishing chunks at once both count.
/// </summary>
public sealed record JobRecord(JobProgress Progress, byte[] ChunkMap, int ChunkSize, ETag BlobETag)
{
    private const string ChunkMapMetadata = "chunkmap";
    private const string ChunkSizeMetadata = "chunksize";

    public bool IsDone(int chunk) => (ChunkMap[chunk / 8] & (1 << (chunk % 8))) != 0;

    public IEnumerable<int> Pending => Enumerable.Range(0, Progress.Chunks).Where(c => !IsDone(c));

    public static byte[] EmptyMap(int chunks) => new byte[(chunks + 7) / 8];

    public static string ProgressName(string job) => $"{job}/progress.json";

    public static async Task<JobRecord?> ReadAsync(BlobClient blob, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(blob);
        try
        {
            var download = (await blob.DownloadContentAsync(cancellationToken)).Value;
            var progress = JsonSerializer.Deserialize<JobProgress>(download.Content.ToStream(), RecordJson.Options)!;
            var metadata = download.Details.Metadata;
            var map = metadata.TryGetValue(ChunkMapMetadata, out var text) ? Convert.FromBase64String(text) : EmptyMap(progress.Chunks);
            int chunkSize = metadata.TryGetValue(ChunkSizeMetadata, out var size) ? int.Parse(size, System.Globalization.CultureInfo.InvariantCulture) : 0;
            return new JobRecord(progress, map, chunkSize, download.Details.ETag);
        }
        catch (RequestFailedException ex) when (ex.Status == 404)
        {
            return null;
        }
    }

    /// <summary>The record as stored content and metadata.</summary>
    public (BinaryData Content, Dictionary<string, string> Metadata) Serialize() =>
        (new BinaryData(JsonSerializer.SerializeToUtf8Bytes(Progress, RecordJson.Options)), new Dictionary<string, string>
        {
            [ChunkMapMetadata] = Convert.ToBase64String(ChunkMap),
            [ChunkSizeMetadata] = ChunkSize.ToString(System.Globalization.CultureInfo.InvariantCulture),
        });

    /// <summary>Replaces the stored record if it has not changed since it was read; false when another writer got there first.</summary>
    public async Task<bool> TryReplaceAsync(BlobClient blob, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(blob);
        var (content, metadata) = Serialize();
        try
        {
            await BlobWrites.UploadAsync(blob, content, "application/json", Progress.Source.ETag, cancellationToken, new Azure.Storage.Blobs.Models.BlobRequestConditions { IfMatch = BlobETag }, metadata);
            return true;
        }
        catch (RequestFailedException ex) when (ex.Status is 409 or 412)
        {
            return false;
        }
    }
}

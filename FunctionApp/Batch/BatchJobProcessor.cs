using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Azure;
using Azure.Storage.Blobs;
using Azure.Storage.Blobs.Models;
using FunctionApp.Api;
using FunctionApp.Imaging;
using FunctionApp.Inference;
using FunctionApp.Storage;
using FunctionApp.Telemetry;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace FunctionApp.Batch;

/// <summary><c>predictions/batches/{job}/progress.json</c>, rewritten after every chunk so a user can watch a job.</summary>
public sealed record JobProgress(
    string Job,
    SourceBlob Source,
    string State,
    int Total,
    int Done,
    int Failed,
    DateTimeOffset Started,
    DateTimeOffset? Finished,
    string? Model,
    string? Version,
    string? Error);

/// <summary>One line of <c>results.jsonl</c>: an entry's answer or why it has none.</summary>
public sealed record BatchLine(int Index, string Entry, string Status, IReadOnlyList<LabelScore>? Top, string? ErrorKind, string? Error);

/// <summary>
/// Runs a batch dropped into <c>batches/</c> (a .zip archive, or a .json manifest of blob names) as one job.
/// Entries go through in chunks: read with bounded parallelism, decoded and preprocessed in parallel, scored
/// as one batch, and written as one part blob; progress is rewritten after every chunk. A job that stopped
/// part-way resumes from its last written part; a finished job for the same upload is not run again. At the
/// end the parts become <c>results.jsonl</c> and <c>summary.csv</c>.
/// </summary>
public sealed partial class BatchJobProcessor(
    BlobStorage storage,
    ImageClassifier classifier,
    ModelCatalog catalog,
    ImageDecoder decoder,
    IOptions<BatchOptions> batchOptions,
    IOptions<PredictionOptions> predictionOptions,
    TimeProvider time,
    InferenceMetrics metrics,
    ILogger<BatchJobProcessor> logger)
{
    private const string ImagesMetadata = "images";
    private const string FailedMetadata = "failed";
    private readonly BatchOptions _options = batchOptions.Value;
    private readonly PredictionOptions _prediction = predictionOptions.Value;

    /// <summary>The job name for a batch blob: its name without the extension.</summary>
    public static string JobName(string batchName) =>
        Path.ChangeExtension(batchName, null)!.Replace('\\', '/');

    public static string JobPrefix(string batchName) => $"batches/{JobName(batchName)}/";

    public Task<BlobOutcome> ProcessAsync(string batchName, CancellationToken cancellationToken) =>
        InferenceActivity.TraceBlobAsync("process batch", StorageOptions.BatchesContainer, batchName, () => ProcessCoreAsync(batchName, cancellationToken));

    private async Task<BlobOutcome> ProcessCoreAsync(string batchName, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(batchName);
        var batch = storage.Batches.GetBlobClient(batchName);
        BlobProperties properties;
        try
        {
            properties = (await batch.GetPropertiesAsync(cancellationToken: cancellationToken)).Value;
        }
        catch (RequestFailedException ex) when (ex.Status == 404)
        {
            return BlobOutcome.Missing;
        }

        var etag = properties.ETag.ToString().Trim('"');
        var origin = new SourceBlob(StorageOptions.BatchesContainer, batchName, etag, properties.ContentLength);
        var job = JobName(batchName);
        var prefix = JobPrefix(batchName);
        var progressBlob = storage.Predictions.GetBlobClient(prefix + "progress.json");
        var previous = await ReadProgressAsync(progressBlob, etag, cancellationToken);
        if (previous is { State: "finished" or "failed" })
        {
            LogAlreadyDone(job, etag);
            return BlobOutcome.AlreadyProcessed;
        }

        var started = previous?.Started ?? time.GetUtcNow();
        var temp = Path.Combine(Path.GetTempPath(), "batch-" + Guid.NewGuid().ToString("N"));
        try
        {
            try
            {
                await batch.DownloadToAsync(temp, new BlobDownloadToOptions { Conditions = new BlobRequestConditions { IfMatch = properties.ETag } }, cancellationToken);
            }
            catch (RequestFailedException ex) when (ex.Status is 404 or 412)
            {
                return BlobOutcome.Missing;
            }

            IBatchSource source;
            try
            {
                source = Open(batchName, temp);
            }
            catch (BatchRejectedException ex)
            {
                var rejected = new JobProgress(job, origin, "failed", 0, 0, 0, started, time.GetUtcNow(), null, null, ex.Message);
                await WriteProgressAsync(progressBlob, rejected, cancellationToken);
                LogRejected(job, ex.Message);
                metrics.BatchEnded("failed");
                return BlobOutcome.Failed;
            }

            using (source)
                await RunAsync(job, prefix, origin, source, started, progressBlob, cancellationToken);
            return BlobOutcome.Processed;
        }
        finally
        {
            File.Delete(temp);
        }
    }

    private IBatchSource Open(string batchName, string path)
    {
        var extension = Path.GetExtension(batchName);
        if (extension.Equals(".zip", StringComparison.OrdinalIgnoreCase))
            return new ZipBatchSource(path, _options, decoder.Limits.MaxBytes);
        if (extension.Equals(".json", StringComparison.OrdinalIgnoreCase))
            return new ManifestBatchSource(File.ReadAllBytes(path), storage, _options, decoder.Limits.MaxBytes);
        throw new BatchRejectedException($"'{batchName}' is neither a .zip archive nor a .json manifest.");
    }

    private async Task RunAsync(string job, string prefix, SourceBlob origin, IBatchSource source, DateTimeOffset started, BlobClient progressBlob, CancellationToken cancellationToken)
    {
        var entry = catalog.Resolve();
        var entries = source.Entries;
        int chunkSize = Math.Min(_options.ChunkSize, _prediction.MaxBatchImages);
        int chunks = (entries.Count + chunkSize - 1) / chunkSize;
        int done = 0, failed = 0;
        string? version = null;
        LogStarted(job, entries.Count, chunks);

        for (int c = 0; c < chunks; c++)
        {
            var part = storage.Predictions.GetBlobClient($"{prefix}parts/{c:D5}.jsonl");
            var existing = await PartCountsAsync(part, origin.ETag, cancellationToken);
            if (existing is { } counts)
            {
                done += counts.Images;
                failed += counts.Failed;
                continue;
            }

            var chunk = entries.Skip(c * chunkSize).Take(chunkSize).ToList();
            var (lines, chunkVersion) = await ScoreChunkAsync(chunk, source, entry, cancellationToken);
            version = chunkVersion ?? version;
            int chunkFailed = lines.Count(l => l.Status != "ok");
            var body = new StringBuilder();
            foreach (var line in lines)
                body.Append(JsonSerializer.Serialize(line, ApiJson.Options)).Append('\n');
            await part.UploadAsync(BinaryData.FromString(body.ToString()), new BlobUploadOptions
            {
                HttpHeaders = new BlobHttpHeaders { ContentType = "application/x-ndjson" },
                Metadata = new Dictionary<string, string>
                {
                    [ImageBlobProcessor.SourceETagMetadata] = origin.ETag,
                    [ImagesMetadata] = lines.Count.ToString(CultureInfo.InvariantCulture),
                    [FailedMetadata] = chunkFailed.ToString(CultureInfo.InvariantCulture),
                },
            }, cancellationToken);
            done += lines.Count;
            failed += chunkFailed;
            metrics.BatchProgress(entry.Name, chunkVersion ?? entry.Version, lines.Count - chunkFailed, chunkFailed);
            await WriteProgressAsync(progressBlob, new JobProgress(job, origin, "running", entries.Count, done, failed, started, null, entry.Name, version, null), cancellationToken);
        }

        await CombineAsync(prefix, origin.ETag, chunks, cancellationToken);
        await WriteProgressAsync(progressBlob, new JobProgress(job, origin, "finished", entries.Count, done, failed, started, time.GetUtcNow(), entry.Name, version ?? entry.Version, null), cancellationToken);
        LogFinished(job, done, failed);
        metrics.BatchEnded("finished");
        Activity.Current?.SetTag("inference.images", done);
        Activity.Current?.SetTag("inference.images.failed", failed);
    }

    private async Task<(List<BatchLine> Lines, string? Version)> ScoreChunkAsync(List<BatchEntry> chunk, IBatchSource source, ModelEntry model, CancellationToken cancellationToken)
    {
        var bytes = new byte[]?[chunk.Count];
        var errors = new (string Kind, string Message)?[chunk.Count];
        await Parallel.ForAsync(0, chunk.Count, new ParallelOptions { MaxDegreeOfParallelism = _options.MaxParallelReads, CancellationToken = cancellationToken }, async (i, ct) =>
        {
            if (chunk[i].Problem is { } problem)
            {
                errors[i] = ("rejected", problem);
                return;
            }

            try
            {
                bytes[i] = await source.ReadAsync(chunk[i], ct);
            }
            catch (ImageInputException ex)
            {
                errors[i] = (JsonNamingPolicy.CamelCase.ConvertName(ex.Error.ToString()), ex.Message);
            }
        });

        var readable = Enumerable.Range(0, chunk.Count).Where(i => bytes[i] is not null).ToList();
        ScoredImages? scored = readable.Count == 0
            ? null
            : await classifier.ScoreImagesAsync(readable.Select(i => new NamedImage(chunk[i].Name, bytes[i])).ToList(), model, cancellationToken);

        var lines = new List<BatchLine>(chunk.Count);
        var scoredByIndex = readable.Select((i, j) => (i, j)).ToDictionary(p => p.i, p => p.j);
        for (int i = 0; i < chunk.Count; i++)
        {
            var entry = chunk[i];
            if (errors[i] is { } error)
            {
                lines.Add(new BatchLine(entry.Index, entry.Name, "failed", null, error.Kind, error.Message));
                continue;
            }

            var image = scored!.Images[scoredByIndex[i]];
            lines.Add(image.Error is { } imageError
                ? new BatchLine(entry.Index, entry.Name, "failed", null, JsonNamingPolicy.CamelCase.ConvertName(imageError.Error.ToString()), imageError.Message)
                : new BatchLine(entry.Index, entry.Name, "ok", ScorePostprocessor.TopK(image.Probabilities, scored.Package.Labels, _prediction.DefaultTopK), null, null));
        }

        return (lines, scored?.Version);
    }

    /// <summary>Joins the parts into results.jsonl and summary.csv (each one whole upload), then removes the parts.</summary>
    private async Task CombineAsync(string prefix, string etag, int chunks, CancellationToken cancellationToken)
    {
        var jsonl = new StringBuilder();
        var csv = new StringBuilder("index,entry,status,label,score,error\n");
        for (int c = 0; c < chunks; c++)
        {
            var content = (await storage.Predictions.GetBlobClient($"{prefix}parts/{c:D5}.jsonl").DownloadContentAsync(cancellationToken)).Value.Content.ToString();
            jsonl.Append(content);
            foreach (var text in content.Split('\n', StringSplitOptions.RemoveEmptyEntries))
            {
                var line = JsonSerializer.Deserialize<BatchLine>(text, ApiJson.Options)!;
                var best = line.Top is { Count: > 0 } top ? top[0] : null;
                csv.Append(CultureInfo.InvariantCulture, $"{line.Index},{Csv(line.Entry)},{line.Status},{Csv(best?.Label)},{best?.Score.ToString("R", CultureInfo.InvariantCulture)},{Csv(line.Error)}\n");
            }
        }

        var metadata = new Dictionary<string, string> { [ImageBlobProcessor.SourceETagMetadata] = etag };
        await storage.Predictions.GetBlobClient(prefix + "results.jsonl").UploadAsync(BinaryData.FromString(jsonl.ToString()), new BlobUploadOptions { HttpHeaders = new BlobHttpHeaders { ContentType = "application/x-ndjson" }, Metadata = metadata }, cancellationToken);
        await storage.Predictions.GetBlobClient(prefix + "summary.csv").UploadAsync(BinaryData.FromString(csv.ToString()), new BlobUploadOptions { HttpHeaders = new BlobHttpHeaders { ContentType = "text/csv" }, Metadata = metadata }, cancellationToken);
        for (int c = 0; c < chunks; c++)
            await storage.Predictions.GetBlobClient($"{prefix}parts/{c:D5}.jsonl").DeleteIfExistsAsync(cancellationToken: cancellationToken);
    }

    private static string Csv(string? value) =>
        value is null ? string.Empty
        : value.IndexOfAny([',', '"', '\n', '\r']) >= 0 ? "\"" + value.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"" : value;

    private static async Task<(int Images, int Failed)?> PartCountsAsync(BlobClient part, string etag, CancellationToken cancellationToken)
    {
        try
        {
            var metadata = (await part.GetPropertiesAsync(cancellationToken: cancellationToken)).Value.Metadata;
            if (!metadata.TryGetValue(ImageBlobProcessor.SourceETagMetadata, out var recorded) || recorded != etag)
                return null;
            return (int.Parse(metadata[ImagesMetadata], CultureInfo.InvariantCulture), int.Parse(metadata[FailedMetadata], CultureInfo.InvariantCulture));
        }
        catch (RequestFailedException ex) when (ex.Status == 404)
        {
            return null;
        }
    }

    private static async Task<JobProgress?> ReadProgressAsync(BlobClient progress, string etag, CancellationToken cancellationToken)
    {
        try
        {
            var content = (await progress.DownloadContentAsync(cancellationToken)).Value.Content;
            var record = JsonSerializer.Deserialize<JobProgress>(content.ToStream(), ApiJson.Options);
            return record?.Source.ETag == etag ? record : null;
        }
        catch (RequestFailedException ex) when (ex.Status == 404)
        {
            return null;
        }
    }

    private static Task WriteProgressAsync(BlobClient progress, JobProgress record, CancellationToken cancellationToken) =>
        ImageBlobProcessor.UploadAsync(progress, JsonSerializer.SerializeToUtf8Bytes(record, ApiJson.Options), "application/json", record.Source.ETag, cancellationToken);

    [LoggerMessage(Level = LogLevel.Information, Message = "Batch job {Job} started: {Entries} entries in {Chunks} chunks")]
    private partial void LogStarted(string job, int entries, int chunks);

    [LoggerMessage(Level = LogLevel.Information, Message = "Batch job {Job} finished: {Done} entries, {Failed} failed")]
    private partial void LogFinished(string job, int done, int failed);

    [LoggerMessage(Level = LogLevel.Information, Message = "Batch job {Job} for ETag {ETag} already ran")]
    private partial void LogAlreadyDone(string job, string etag);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Batch job {Job} rejected: {Reason}")]
    private partial void LogRejected(string job, string reason);
}

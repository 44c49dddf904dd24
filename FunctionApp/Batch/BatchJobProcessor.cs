using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text;
using Azure.Storage.Blobs.Models;
using Azure.Storage.Blobs.Specialized;
using Azure.Storage.Blobs;
using Azure;
using FunctionApp.Classification;
using FunctionApp.Imaging;
using FunctionApp.Inference;
using FunctionApp.Models;
using FunctionApp.Storage;
using FunctionApp.Telemetry;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace FunctionApp.Batch;

/// <summary>
/// Batch jobs: a zip archive or a JSON manifest dropped into <c>batches/</c>, scored by any number of instances.
/// <list type="number">
/// <item><b>Start</b> (the blob trigger): the receiving instance indexes the batch once (an archive's central directory,
/// read by range), pins the model version, writes the job's progress record and queues one message per chunk on
/// <c>batch-chunks</c>.</item>
/// <item><b>Chunks</b> (the queue trigger, on any instance): read only the chunk's own entries, score them, write the
/// chunk's part (created once: a redelivered message finds it), then mark the chunk done in the progress record by
/// compare-and-swap.</item>
/// <item><b>Completion</b>: the instance that marks the last chunk joins the parts into <c>results.jsonl</c> and
/// <c>summary.csv</c> and sets the state to finished; that last step is again a compare-and-swap, so it happens once.</item>
/// </list>
/// The job is the batch blob's full name (<c>X.zip</c> and <c>X.json</c> are two jobs) and its outputs live under
/// <c>batch-results/{job}/</c>. A new upload under the same name is a new job that replaces the old one's outputs.
/// </summary>
public sealed partial class BatchJobProcessor(
    BlobStorage storage,
    BatchSources sources,
    ImageClassifier classifier,
    ModelCatalog catalog,
    InstanceIdentity instance,
    IOptions<BatchOptions> batchOptions,
    IOptions<PredictionOptions> predictionOptions,
    TimeProvider time,
    InferenceMetrics metrics,
    ILogger<BatchJobProcessor> logger)
{
    /// <summary>A chunk's message stays well under the queue's 64 KB (its base64 form included).</summary>
    private const int MaxMessageBytes = 40_000;
    private const int MaxRaces = 64;
    private readonly BatchOptions _options = batchOptions.Value;
    private readonly PredictionOptions _prediction = predictionOptions.Value;

    public static string PartName(string job, int chunk) => $"{job}/parts/{chunk:D6}.json";

    public static string ResultsName(string job) => $"{job}/results.jsonl";

    public static string SummaryName(string job) => $"{job}/summary.csv";

    /// <summary>The job's progress, or null if there is no such job.</summary>
    public async Task<JobProgress?> GetProgressAsync(string job, CancellationToken cancellationToken) =>
        (await JobRecord.ReadAsync(ProgressBlob(job), cancellationToken))?.Progress;

    /// <summary>The blob trigger: indexes the batch and queues its chunks (nothing, if this upload's job already exists).</summary>
    public Task<BlobOutcome> StartAsync(string batchName, CancellationToken cancellationToken) =>
        InferenceActivity.TraceBlobAsync("start batch", StorageOptions.BatchesContainer, batchName, () => StartCoreAsync(batchName, null, cancellationToken));

    /// <summary>The last word on a batch blob whose trigger failed every try: one more attempt, then a failed job with the reason.</summary>
    public Task<BlobOutcome> ConcludeAsync(string batchName, string etag, int tries, CancellationToken cancellationToken) =>
        InferenceActivity.TraceBlobAsync("conclude batch", StorageOptions.BatchesContainer, batchName, () => StartCoreAsync(batchName, (etag, tries), cancellationToken));

    private async Task<BlobOutcome> StartCoreAsync(string batchName, (string ETag, int Tries)? conclude, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(batchName);
        var input = storage.Batches.GetBlobClient(batchName);
        var properties = await BlobWrites.PropertiesAsync(input, cancellationToken);
        if (properties is null || (conclude is { } c && SourceBlob.Plain(properties.ETag) != c.ETag))
            return BlobOutcome.Missing;
        var origin = new SourceBlob(StorageOptions.BatchesContainer, batchName, SourceBlob.Plain(properties.ETag), properties.ContentLength);
        var existing = await JobRecord.ReadAsync(ProgressBlob(batchName), cancellationToken);
        if (existing?.Progress.Source.ETag == origin.ETag)
        {
            LogAlreadyStarted(batchName, origin.ETag, existing.Progress.State);
            return BlobOutcome.AlreadyProcessed;
        }

        try
        {
            IReadOnlyList<BatchEntry> entries;
            try
            {
                entries = await sources.IndexAsync(origin, cancellationToken);
            }
            catch (BatchRejectedException ex)
            {
                return await RejectAsync(input, origin, ex.Message, cancellationToken);
            }

            var model = catalog.Resolve();
            using var lease = await classifier.LeaseLoadedPoolAsync(model, cancellationToken);
            var pool = lease.Pool;
            int chunkSize = Math.Min(_options.ChunkSize, _prediction.MaxBatchImages);
            var plan = Plan(entries, chunkSize);
            var now = time.GetUtcNow();
            var progress = new JobProgress(batchName, origin, BatchJobState.Running, entries.Count, 0, 0, plan.Count, 0, null, now, now, null, pool.Model, pool.Version, null);
            var record = new JobRecord(progress, JobRecord.EmptyMap(plan.Count), chunkSize, default);
            var (content, metadata) = record.Serialize();
            var written = await BlobWrites.WriteOutcomeAsync(ProgressBlob(batchName), input, origin, content, "application/json", cancellationToken, metadata);
            if (written != OutcomeWrite.Written)
                return written == OutcomeWrite.AlreadyWritten ? BlobOutcome.AlreadyProcessed : BlobOutcome.Missing;

            LogStarted(batchName, entries.Count, plan.Count, pool.Model, pool.Version);
            if (plan.Count == 0)
            {
                await CompleteAsync(batchName, origin.ETag, cancellationToken);
                return BlobOutcome.Processed;
            }

            await EnqueueAsync(progress, plan, Enumerable.Range(0, plan.Count), cancellationToken);
            return BlobOutcome.Processed;
        }
        catch (BatchSupersededException)
        {
            return BlobOutcome.Missing;
        }
        catch (Exception ex) when (conclude is { } last && ex is not OperationCanceledException)
        {
            return await RejectAsync(input, origin, FailureReasons.AfterRetries(ex, last.Tries), cancellationToken);
        }
    }

    /// <summary>The queue trigger: scores one chunk, records it, and completes the job if it was the last one.</summary>
    public Task RunChunkAsync(ChunkWork work, CancellationToken cancellationToken) => RunChunkCoreAsync(work, null, cancellationToken);

    /// <summary>A chunk that failed every try: one more attempt, and if that fails too, its entries recorded as failed with the reason.</summary>
    public Task ConcludeChunkAsync(ChunkWork work, int tries, CancellationToken cancellationToken) => RunChunkCoreAsync(work, tries, cancellationToken);

    private async Task RunChunkCoreAsync(ChunkWork work, int? concludeAfter, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(work);
        using var activity = InferenceActivity.ProcessBlob("run batch chunk", StorageOptions.BatchesContainer, work.Job);
        activity?.SetTag("batch.chunk", work.Chunk);
        var record = await JobRecord.ReadAsync(ProgressBlob(work.Job), cancellationToken);
        if (record is null || record.Progress.Source.ETag != work.ETag || record.Progress.State != BatchJobState.Running || work.Chunk >= record.Progress.Chunks)
            return; // a job replaced by a newer upload, or already ended
        if (!record.IsDone(work.Chunk))
        {
            var part = await ReadPartAsync(work.Job, work.Chunk, work.ETag, cancellationToken);
            if (part is null)
            {
                try
                {
                    part = await ScoreChunkAsync(work, cancellationToken);
                }
                catch (BatchSupersededException)
                {
                    return;
                }
                catch (Exception ex) when (concludeAfter is { } tries && ex is not OperationCanceledException)
                {
                    var reason = FailureReasons.AfterRetries(ex, tries);
                    part = new BatchPart(work.Chunk, instance.Name, work.Entries.Select(e => new BatchLine(e.Index, e.Name, BlobOutcomeStatus.Failed, null, FailureReasons.ProcessingKind, reason)).ToList());
                }

                part = await WritePartAsync(work, part, cancellationToken);
            }

            record = await MarkDoneAsync(work, part, cancellationToken);
            if (record is null)
                return;
        }

        if (record.Progress.State == BatchJobState.Running && !record.Pending.Any())
            await CompleteAsync(work.Job, work.ETag, cancellationToken);
    }

    /// <summary>
    /// A sweep's check of one batch blob: starts a job whose trigger never came, and takes up a job that stopped
    /// moving (an instance killed mid-chunk: its message would only come back after the queue's visibility timeout)
    /// by queueing its unfinished chunks again; duplicates find their parts written and change nothing.
    /// </summary>
    public async Task<bool> SweepAsync(string batchName, DateTimeOffset uploaded, TimeSpan grace, CancellationToken cancellationToken)
    {
        var input = storage.Batches.GetBlobClient(batchName);
        var properties = await BlobWrites.PropertiesAsync(input, cancellationToken);
        if (properties is null)
            return false;
        var now = time.GetUtcNow();
        var record = await JobRecord.ReadAsync(ProgressBlob(batchName), cancellationToken);
        if (record is null || record.Progress.Source.ETag != SourceBlob.Plain(properties.ETag))
        {
            if (now - uploaded < grace)
                return false;
            LogSweptStart(batchName);
            return await StartAsync(batchName, cancellationToken) == BlobOutcome.Processed;
        }

        var progress = record.Progress;
        if (progress.State != BatchJobState.Running || now - progress.Updated < grace)
            return false;
        if (!record.Pending.Any())
        {
            await CompleteAsync(batchName, progress.Source.ETag, cancellationToken);
            return true;
        }

        var entries = await sources.IndexAsync(progress.Source, cancellationToken);
        var plan = Plan(entries, record.ChunkSize);
        if (plan.Count != progress.Chunks)
            return false;
        var pending = record.Pending.ToList();
        LogResumed(batchName, pending.Count);
        await EnqueueAsync(progress, plan, pending, cancellationToken);

        // Counts as movement: the next sweep waits another grace period before queueing them again.
        await TouchAsync(batchName, progress.Source.ETag, cancellationToken);
        return true;
    }

    /// <summary>Splits the entries into chunks of at most <paramref name="chunkSize"/> entries whose message fits a queue message.</summary>
    public static List<List<BatchEntry>> Plan(IReadOnlyList<BatchEntry> entries, int chunkSize)
    {
        ArgumentNullException.ThrowIfNull(entries);
        var plan = new List<List<BatchEntry>>();
        var chunk = new List<BatchEntry>();
        int bytes = 0;
        foreach (var entry in entries)
        {
            int cost = (6 * entry.Name.Length) + (entry.Problem?.Length ?? 0) + 200;
            if (chunk.Count > 0 && (chunk.Count == chunkSize || bytes + cost > MaxMessageBytes))
            {
                plan.Add(chunk);
                chunk = [];
                bytes = 0;
            }

            chunk.Add(entry);
            bytes += cost;
        }

        if (chunk.Count > 0)
            plan.Add(chunk);
        return plan;
    }

    private async Task EnqueueAsync(JobProgress progress, List<List<BatchEntry>> plan, IEnumerable<int> chunks, CancellationToken cancellationToken)
    {
        var queue = storage.Queue(StorageOptions.BatchChunksQueue);
        foreach (int c in chunks)
        {
            var work = new ChunkWork(progress.Job, progress.Source.ETag, progress.Source.Size, c, progress.Model!, progress.Version!, plan[c]);
            await QueueWrites.SendAsync(queue, JsonSerializer.Serialize(work, RecordJson.Options), cancellationToken);
        }
    }

    /// <summary>
    /// Reads and scores a chunk's entries in waves of at most <see cref="BatchOptions.MaxChunkBytes"/> of encoded bytes
    /// (reads <see cref="BatchOptions.MaxParallelReads"/> at a time), so a chunk of large images never sits in memory whole.
    /// </summary>
    private async Task<BatchPart> ScoreChunkAsync(ChunkWork work, CancellationToken cancellationToken)
    {
        var chunk = work.Entries;
        var lines = new BatchLine[chunk.Count];
        var model = catalog.Resolve(work.Model, work.Version);
        int next = 0;
        while (next < chunk.Count)
        {
            var wave = new List<(int Index, byte[] Bytes)>();
            long waveBytes = 0;
            while (next < chunk.Count && waveBytes < _options.MaxChunkBytes)
            {
                int end = Math.Min(next + _options.MaxParallelReads, chunk.Count);
                var reads = await Task.WhenAll(Enumerable.Range(next, end - next).Select(i => ReadEntryAsync(work, chunk[i], cancellationToken)));
                for (int k = 0; k < reads.Length; k++)
                {
                    int i = next + k;
                    if (reads[k].Bytes is { } bytes)
                    {
                        wave.Add((i, bytes));
                        waveBytes += bytes.Length;
                    }
                    else
                    {
                        lines[i] = new BatchLine(chunk[i].Index, chunk[i].Name, BlobOutcomeStatus.Failed, null, reads[k].Kind, reads[k].Error);
                    }
                }

                next = end;
            }

            if (wave.Count == 0)
                continue;
            var scored = await classifier.ScoreImagesAsync(wave.Select(w => new NamedImage(chunk[w.Index].Name, w.Bytes)).ToList(), model, InferencePriority.Bulk, cancellationToken);
            for (int j = 0; j < wave.Count; j++)
            {
                var entry = chunk[wave[j].Index];
                var image = scored.Images[j];
                if (image.Error is { } imageError)
                {
                    lines[wave[j].Index] = new BatchLine(entry.Index, entry.Name, BlobOutcomeStatus.Failed, null, FailureReasons.Kind(imageError.Error), imageError.Message);
                    continue;
                }

                var top = ScorePostprocessor.TopK(image.Probabilities, scored.Package.Labels, _prediction.DefaultTopK);
                bool? low = scored.Package.Manifest.MinScore is { } floor && top.Count > 0 && top[0].Score < floor ? true : null;
                lines[wave[j].Index] = new BatchLine(entry.Index, entry.Name, BlobOutcomeStatus.Ok, top, null, null, low);
            }
        }

        metrics.BatchProgress(work.Model, work.Version, lines.Count(l => l.Status == BlobOutcomeStatus.Ok), lines.Count(l => l.Status != BlobOutcomeStatus.Ok));
        return new BatchPart(work.Chunk, instance.Name, lines);
    }

    /// <summary>One entry's bytes, or why it has none (its problem from indexing, or a limit it broke when read).</summary>
    private async Task<(byte[]? Bytes, string? Kind, string? Error)> ReadEntryAsync(ChunkWork work, BatchEntry entry, CancellationToken cancellationToken)
    {
        if (entry.Problem is { } problem)
            return (null, entry.ProblemKind ?? "rejected", problem);
        try
        {
            return (await sources.ReadAsync(work.Source, entry, cancellationToken), null, null);
        }
        catch (ImageInputException ex)
        {
            return (null, FailureReasons.Kind(ex.Error), ex.Message);
        }
    }

    /// <summary>Creates the chunk's part once per upload; a part already written for this upload wins (a duplicate message, or a race).</summary>
    private async Task<BatchPart> WritePartAsync(ChunkWork work, BatchPart part, CancellationToken cancellationToken)
    {
        var blob = storage.BatchResults.GetBlobClient(PartName(work.Job, work.Chunk));
        var content = new BinaryData(JsonSerializer.SerializeToUtf8Bytes(part, RecordJson.Options));
        for (int race = 0; race < MaxRaces; race++)
        {
            var existing = await BlobWrites.PropertiesAsync(blob, cancellationToken);
            if (BlobWrites.SourceETagOf(existing) == work.ETag)
                return (await ReadPartAsync(work.Job, work.Chunk, work.ETag, cancellationToken))!;
            var condition = existing is null ? new BlobRequestConditions { IfNoneMatch = ETag.All } : new BlobRequestConditions { IfMatch = existing.ETag };
            try
            {
                await BlobWrites.UploadAsync(blob, content, "application/json", work.ETag, cancellationToken, condition);
                return part;
            }
            catch (RequestFailedException ex) when (ex.Status is 409 or 412)
            {
            }
        }

        throw new RequestFailedException(409, "The chunk's part kept changing under concurrent writers.");
    }

    private async Task<BatchPart?> ReadPartAsync(string job, int chunk, string etag, CancellationToken cancellationToken)
    {
        try
        {
            var download = (await storage.BatchResults.GetBlobClient(PartName(job, chunk)).DownloadContentAsync(cancellationToken)).Value;
            if (!download.Details.Metadata.TryGetValue(BlobWrites.SourceETagMetadata, out var from) || from != etag)
                return null;
            return JsonSerializer.Deserialize<BatchPart>(download.Content.ToStream(), RecordJson.Options);
        }
        catch (RequestFailedException ex) when (ex.Status == 404)
        {
            return null;
        }
    }

    /// <summary>Marks the chunk done and adds its counts, by compare-and-swap; null when the job changed hands meanwhile.</summary>
    private async Task<JobRecord?> MarkDoneAsync(ChunkWork work, BatchPart part, CancellationToken cancellationToken)
    {
        var blob = ProgressBlob(work.Job);
        for (int race = 0; race < MaxRaces; race++)
        {
            var record = await JobRecord.ReadAsync(blob, cancellationToken);
            if (record is null || record.Progress.Source.ETag != work.ETag || record.Progress.State != BatchJobState.Running)
                return null;
            if (record.IsDone(work.Chunk))
                return record;
            var map = (byte[])record.ChunkMap.Clone();
            map[work.Chunk / 8] |= (byte)(1 << (work.Chunk % 8));
            var now = time.GetUtcNow();
            int done = record.Progress.Done + part.Lines.Count;
            var progress = record.Progress with
            {
                Done = done,
                Failed = record.Progress.Failed + part.Lines.Count(l => l.Status != BlobOutcomeStatus.Ok),
                ChunksDone = record.Progress.ChunksDone + 1,
                Updated = now,
                ImagesPerSecond = Rate(done, record.Progress.Started, now),
            };
            var updated = record with { Progress = progress, ChunkMap = map };
            if (await updated.TryReplaceAsync(blob, cancellationToken))
            {
                LogChunk(work.Job, work.Chunk, progress.ChunksDone, progress.Chunks, instance.Name);
                return updated;
            }

            await Task.Delay(Random.Shared.Next(5, 50), cancellationToken);
        }

        throw new RequestFailedException(409, "The job's progress kept changing under concurrent writers.");
    }

    /// <summary>Moves the job's last-update time, so a sweep that just queued its chunks again waits before doing so again.</summary>
    private async Task TouchAsync(string job, string etag, CancellationToken cancellationToken)
    {
        var blob = ProgressBlob(job);
        var record = await JobRecord.ReadAsync(blob, cancellationToken);
        if (record is { Progress.State: BatchJobState.Running } && record.Progress.Source.ETag == etag)
            await (record with { Progress = record.Progress with { Updated = time.GetUtcNow() } }).TryReplaceAsync(blob, cancellationToken);
    }

    /// <summary>
    /// Joins the parts, in chunk order, into <c>results.jsonl</c> and <c>summary.csv</c> (each staged in blocks and committed
    /// whole, so memory stays at a few blocks whatever the job's size), then ends the job by compare-and-swap, once.
    /// </summary>
    private async Task CompleteAsync(string job, string etag, CancellationToken cancellationToken)
    {
        var blob = ProgressBlob(job);
        var record = await JobRecord.ReadAsync(blob, cancellationToken);
        if (record is null || record.Progress.Source.ETag != etag || record.Progress.State != BatchJobState.Running || record.Pending.Any())
            return;

        var results = storage.BatchResults.GetBlockBlobClient(ResultsName(job));
        if (BlobWrites.SourceETagOf(await BlobWrites.PropertiesAsync(storage.BatchResults.GetBlobClient(ResultsName(job)), cancellationToken)) != etag)
        {
            // Not combined yet (a completion that stopped after combining leaves the results, and may have removed parts).
            var summary = storage.BatchResults.GetBlockBlobClient(SummaryName(job));
            var jsonl = new BlockWriter(results);
            var csv = new BlockWriter(summary);
            csv.Append("index,entry,status,label,score,error\n");
            for (int c = 0; c < record.Progress.Chunks; c++)
            {
                var part = await ReadPartAsync(job, c, etag, cancellationToken);
                if (part is null)
                    return; // the job was replaced meanwhile
                foreach (var line in part.Lines)
                {
                    jsonl.Append(JsonSerializer.Serialize(line, RecordJson.Options)).Append('\n');
                    var best = line.Top is { Count: > 0 } top ? top[0] : null;
                    csv.Append(string.Create(CultureInfo.InvariantCulture, $"{line.Index},{Csv(line.Entry)},{line.Status},{Csv(best?.Label)},{best?.Score.ToString("R", CultureInfo.InvariantCulture)},{Csv(line.Error)}\n"));
                }

                await jsonl.FlushIfFullAsync(cancellationToken);
                await csv.FlushIfFullAsync(cancellationToken);
            }

            // The summary first: results carrying this upload's ETag mean both are complete.
            await csv.CommitAsync("text/csv", etag, cancellationToken);
            await jsonl.CommitAsync("application/x-ndjson", etag, cancellationToken);
        }

        // Parts go before the state says finished, so a finished job never has parts beside its results.
        for (int c = 0; c < record.Progress.Chunks; c++)
            await storage.BatchResults.DeleteBlobIfExistsAsync(PartName(job, c), cancellationToken: cancellationToken);

        for (int race = 0; ; race++)
        {
            var now = time.GetUtcNow();
            var finished = record with { Progress = record.Progress with { State = BatchJobState.Finished, Updated = now, Finished = now, ImagesPerSecond = Rate(record.Progress.Done, record.Progress.Started, now) } };
            if (await finished.TryReplaceAsync(blob, cancellationToken))
                break;
            record = await JobRecord.ReadAsync(blob, cancellationToken);
            if (race == MaxRaces || record is null || record.Progress.Source.ETag != etag || record.Progress.State != BatchJobState.Running)
                return; // another instance ended it, or the job was replaced
        }
        metrics.BatchEnded(BatchJobState.Finished);
        LogFinished(job, record.Progress.Done, record.Progress.Failed);
        Activity.Current?.SetTag("inference.images", record.Progress.Done);
        Activity.Current?.SetTag("inference.images.failed", record.Progress.Failed);
    }

    private async Task<BlobOutcome> RejectAsync(BlobClient input, SourceBlob origin, string reason, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        var progress = new JobProgress(origin.Name, origin, BatchJobState.Failed, 0, 0, 0, 0, 0, null, now, now, now, null, null, reason);
        var (content, metadata) = new JobRecord(progress, [], 0, default).Serialize();
        var written = await BlobWrites.WriteOutcomeAsync(ProgressBlob(origin.Name), input, origin, content, "application/json", cancellationToken, metadata);
        if (written != OutcomeWrite.Written)
            return written == OutcomeWrite.AlreadyWritten ? BlobOutcome.AlreadyProcessed : BlobOutcome.Missing;

        // The outputs of an earlier upload under this name are not this job's.
        await storage.BatchResults.DeleteBlobIfExistsAsync(ResultsName(origin.Name), cancellationToken: cancellationToken);
        await storage.BatchResults.DeleteBlobIfExistsAsync(SummaryName(origin.Name), cancellationToken: cancellationToken);
        LogRejected(origin.Name, reason);
        metrics.BatchEnded(BatchJobState.Failed);
        return BlobOutcome.Failed;
    }

    private BlobClient ProgressBlob(string job) => storage.BatchResults.GetBlobClient(JobRecord.ProgressName(job));

    private static double? Rate(int done, DateTimeOffset started, DateTimeOffset now) =>
        now > started ? Math.Round(done / (now - started).TotalSeconds, 2) : null;

    private static string Csv(string? value) =>
        value is null ? string.Empty
        : value.IndexOfAny([',', '"', '\n', '\r']) >= 0 ? "\"" + value.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"" : value;

    /// <summary>Builds a block blob a few megabytes at a time: staged blocks, committed in one step at the end.</summary>
    private sealed class BlockWriter(BlockBlobClient blob)
    {
        private const int BlockBytes = 4 * 1024 * 1024;
        private readonly StringBuilder _buffer = new();
        private readonly List<string> _blocks = [];

        public StringBuilder Append(string text) => _buffer.Append(text);

        public async Task FlushIfFullAsync(CancellationToken cancellationToken)
        {
            if (_buffer.Length >= BlockBytes)
                await StageAsync(cancellationToken);
        }

        public async Task CommitAsync(string contentType, string sourceETag, CancellationToken cancellationToken)
        {
            if (_buffer.Length > 0 || _blocks.Count == 0)
                await StageAsync(cancellationToken);
            await blob.CommitBlockListAsync(_blocks, new CommitBlockListOptions
            {
                HttpHeaders = new BlobHttpHeaders { ContentType = contentType },
                Metadata = new Dictionary<string, string> { [BlobWrites.SourceETagMetadata] = sourceETag },
            }, cancellationToken);
        }

        private async Task StageAsync(CancellationToken cancellationToken)
        {
            var id = Convert.ToBase64String(BitConverter.GetBytes(_blocks.Count).Concat(new byte[12]).ToArray());
            using var content = new MemoryStream(Encoding.UTF8.GetBytes(_buffer.ToString()));
            await blob.StageBlockAsync(id, content, cancellationToken: cancellationToken);
            _blocks.Add(id);
            _buffer.Clear();
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Batch job {Job} started: {Entries} entries in {Chunks} chunks, model {Model} version {Version}")]
    private partial void LogStarted(string job, int entries, int chunks, string model, string version);

    [LoggerMessage(Level = LogLevel.Information, Message = "Batch job {Job}: chunk {Chunk} done ({ChunksDone} of {Chunks}) on {Instance}")]
    private partial void LogChunk(string job, int chunk, int chunksDone, int chunks, string instance);

    [LoggerMessage(Level = LogLevel.Information, Message = "Batch job {Job} finished: {Done} entries, {Failed} failed")]
    private partial void LogFinished(string job, int done, int failed);

    [LoggerMessage(Level = LogLevel.Information, Message = "Batch job {Job} for ETag {ETag} already exists ({State})")]
    private partial void LogAlreadyStarted(string job, string etag, string state);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Batch job {Job} failed: {Reason}")]
    private partial void LogRejected(string job, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "Batch job {Job} had no trigger yet; starting it")]
    private partial void LogSweptStart(string job);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Batch job {Job} stopped moving; queued its {Pending} unfinished chunks again")]
    private partial void LogResumed(string job, int pending);
}

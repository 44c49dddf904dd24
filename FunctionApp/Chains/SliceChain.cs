using System.Text.Json;
using Azure.Storage.Blobs.Models;
using Azure.Storage.Blobs;
using Azure.Storage.Queues;
using Azure;
using FunctionApp.Classification;
using FunctionApp.Imaging;
using FunctionApp.Inference;
using FunctionApp.Models;
using FunctionApp.Storage;
using FunctionApp.Telemetry;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace FunctionApp.Chains;

/// <summary>One step of a chain: run slice <see cref="Step"/> of chain <see cref="Id"/>. The queue message.</summary>
public sealed record ChainStep(string Id, int Step);

/// <summary><c>chains/{id}/state.json</c>: where a chain stands, and its answer once finished.</summary>
public sealed record ChainState(string Id, string Model, string Version, int Steps, string Status, int TopK, DateTimeOffset Created, DateTimeOffset? Finished, IReadOnlyList<LabelScore>? Top, string? Error, SourceBlob? Source = null);

/// <summary>
/// A sliced model run as a chain of function invocations: each step loads only its slice, reads the tensors it
/// needs from blob storage, writes the tensors later steps need, and queues the next step; the last step applies
/// the head and writes the answer. Steps run through the model's chain pool (<see cref="EnginePoolRegistry.LeaseChain"/>). A step that already ran (a redelivered message) only queues its successor
/// again, and the successor's own check absorbs the duplicate, so results are written once. Tensors are deleted
/// when the chain finishes. A chain started by a blob in <c>chain-images/</c> ends with one outcome record,
/// <c>chain-results/{name}.json</c>, replaced when the blob is.
/// </summary>
public sealed partial class SliceChain(
    BlobStorage storage,
    ModelCatalog catalog,
    ImagePreprocessor preprocessor,
    EnginePoolRegistry pools,
    IOptions<PredictionOptions> prediction,
    TimeProvider time,
    ILogger<SliceChain> logger)
{
    /// <summary>How long a caller waits for storage to accept a chain before hearing it is unavailable.</summary>
    public static readonly TimeSpan InteractiveDeadline = TimeSpan.FromSeconds(4);

    public const string Running = "running";
    public const string Finished = "finished";
    public const string Failed = "failed";

    public static string ResultName(string name) => name + ".json";

    /// <summary>Preprocesses the image, stores the input tensor and queues step 0; for a caller who waits for the answer.</summary>
    /// <exception cref="InvalidInferenceRequestException">The model is not sliced, or the request asks for something impossible.</exception>
    /// <exception cref="StorageUnavailableException">Storage did not accept the chain within <see cref="InteractiveDeadline"/>.</exception>
    public async Task<ChainState> StartAsync(NamedImage image, string? model, string? version, int? topK, CancellationToken cancellationToken)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(InteractiveDeadline);
        var (blobs, queues) = storage.Interactive;
        try
        {
            return await StartAsync(image, model, version, topK, Guid.NewGuid().ToString("N"), null, blobs.GetBlobContainerClient(StorageOptions.ChainsContainer), queues.GetQueueClient(StorageOptions.SliceStepsQueue), deadline.Token);
        }
        catch (Exception ex) when (!cancellationToken.IsCancellationRequested && ex is RequestFailedException or OperationCanceledException or HttpRequestException or AggregateException)
        {
            LogUnavailable(ex.Message);
            throw new StorageUnavailableException("Storage is not reachable right now, so the chain could not start; try again shortly.", ex);
        }
    }

    /// <summary>
    /// Starts a chain for a blob dropped into <c>chain-images/</c> with the default model: the chain id comes from the
    /// blob's name and ETag, so a redelivered trigger finds the chain already started. When it ends, its state becomes
    /// the blob's outcome, <c>chain-results/{name}.json</c>; an unusable image gets a failed outcome there at once.
    /// </summary>
    public Task<BlobOutcome> StartFromBlobAsync(string name, CancellationToken cancellationToken) => StartFromBlobCoreAsync(name, null, cancellationToken);

    /// <summary>The last word on a <c>chain-images/</c> blob whose trigger failed every try: one more attempt, then a failed outcome with the reason.</summary>
    public Task<BlobOutcome> ConcludeFromBlobAsync(string name, string etag, int tries, CancellationToken cancellationToken) => StartFromBlobCoreAsync(name, (etag, tries), cancellationToken);

    private async Task<BlobOutcome> StartFromBlobCoreAsync(string name, (string ETag, int Tries)? conclude, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        var input = storage.ChainImages.GetBlobClient(name);
        var properties = await BlobWrites.PropertiesAsync(input, cancellationToken);
        if (properties is null || (conclude is { } c && SourceBlob.Plain(properties.ETag) != c.ETag))
            return BlobOutcome.Missing;
        var source = new SourceBlob(StorageOptions.ChainImagesContainer, name, SourceBlob.Plain(properties.ETag), properties.ContentLength);
        if (BlobWrites.SourceETagOf(await BlobWrites.PropertiesAsync(storage.ChainResults.GetBlobClient(ResultName(name)), cancellationToken)) == source.ETag)
            return BlobOutcome.AlreadyProcessed;
        var id = ChainIdFor(source);
        if (await GetAsync(id, cancellationToken) is { } existing)
        {
            // Started before (a redelivered trigger); a chain that ended without its outcome written gets it now.
            if (existing.Status != Running)
                await WriteResultForSourceAsync(existing, cancellationToken);
            return BlobOutcome.AlreadyProcessed;
        }

        try
        {
            if (source.Size > preprocessor.Decoder.Limits.MaxBytes)
                throw new ImageInputException(ImageInputError.TooLarge, $"The image is {source.Size:N0} bytes, over the limit of {preprocessor.Decoder.Limits.MaxBytes:N0} bytes (ImageLimits:MaxBytes).");
            BinaryData content;
            try
            {
                content = (await input.DownloadContentAsync(new BlobDownloadOptions { Conditions = new BlobRequestConditions { IfMatch = source.AsETag() } }, cancellationToken)).Value.Content;
            }
            catch (RequestFailedException ex) when (ex.Status is 404 or 412)
            {
                return BlobOutcome.Missing;
            }

            await StartAsync(new NamedImage(name, content.ToMemory()), null, null, null, id, source, storage.Chains, storage.Queue(StorageOptions.SliceStepsQueue), cancellationToken);
            return BlobOutcome.Processed;
        }
        catch (Exception ex) when (ex is ImageInputException or InvalidInferenceRequestException || (conclude is not null && ex is not OperationCanceledException))
        {
            var reason = ex is ImageInputException or InvalidInferenceRequestException ? ex.Message : FailureReasons.AfterRetries(ex, conclude!.Value.Tries);
            var failed = new ChainState(id, catalog.DefaultModel ?? string.Empty, string.Empty, 0, Failed, prediction.Value.DefaultTopK, time.GetUtcNow(), time.GetUtcNow(), null, reason, source);
            await WriteStateAsync(storage.Chains, failed, cancellationToken);
            return await WriteResultForSourceAsync(failed, cancellationToken) == OutcomeWrite.Superseded ? BlobOutcome.Missing : BlobOutcome.Failed;
        }
    }

    private async Task<ChainState> StartAsync(NamedImage image, string? model, string? version, int? topK, string id, SourceBlob? source, BlobContainerClient chains, QueueClient steps, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(image);
        var entry = catalog.Resolve(model, version);
        var package = catalog.Package(entry);
        if (!package.IsSliced)
            throw new InvalidInferenceRequestException($"Model '{entry.Name}' version '{entry.Version}' is not sliced; make a sliced version with the slice command.");
        int k = topK ?? prediction.Value.DefaultTopK;
        if (k < 1)
            throw new InvalidInferenceRequestException("'top' must be at least 1.");

        var (tensor, _) = await preprocessor.PreprocessAsync(image.Data, package.Manifest.Preprocessing, cancellationToken);
        long[] shape = [.. InferencePipeline.InputDims(package.Manifest.Preprocessing).Select(d => (long)d)];
        await BlobWrites.UploadAsync(chains.GetBlobClient($"{id}/tensors/{package.Manifest.InputTensor}"), new BinaryData(TensorBlob.Encode(tensor, shape)), "application/octet-stream", null, cancellationToken);
        var state = new ChainState(id, entry.Name, entry.Version, package.Manifest.Slices!.Count, Running, k, time.GetUtcNow(), null, null, null, source);
        await WriteStateAsync(chains, state, cancellationToken);
        await SendAsync(steps, new ChainStep(id, 0), cancellationToken);
        LogStarted(id, entry.Name, entry.Version, state.Steps);
        return state;
    }

    /// <summary>The chain's state, or null if there is no such chain.</summary>
    public async Task<ChainState?> GetAsync(string id, CancellationToken cancellationToken)
    {
        if (string.IsNullOrWhiteSpace(id) || id.Length > 64 || id.Any(c => !char.IsAsciiLetterOrDigit(c)))
            return null;
        try
        {
            var content = (await storage.Chains.GetBlobClient($"{id}/state.json").DownloadContentAsync(cancellationToken)).Value.Content;
            return JsonSerializer.Deserialize<ChainState>(content.ToStream(), RecordJson.Options);
        }
        catch (RequestFailedException ex) when (ex.Status == 404)
        {
            return null;
        }
    }

    /// <summary>Runs one step; safe to call again for the same step.</summary>
    public async Task RunStepAsync(ChainStep step, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(step);
        using var activity = InferenceActivity.ProcessBlob("run slice step", StorageOptions.ChainsContainer, step.Id);
        activity?.SetTag("chain.step", step.Step);
        var state = await GetAsync(step.Id, cancellationToken);
        if (state is null || state.Status != Running)
            return;

        // The chain's pool: the package read once, the head loaded once, each slice loaded only for its step; the same
        // metrics, traffic stats and cold-start facts as every other run of the model.
        using var lease = pools.LeaseChain(catalog.Resolve(state.Model, state.Version));
        var pool = lease.Pool;
        var package = (await pool.GetPipelineAsync(cancellationToken)).Package;
        var slices = package.Manifest.Slices!;
        if (step.Step < 0 || step.Step >= slices.Count)
            return;
        var slice = slices[step.Step];
        var marker = storage.Chains.GetBlobClient(MarkerName(step.Id, step.Step));
        if (!(await marker.ExistsAsync(cancellationToken)).Value)
        {
            var inputs = new Dictionary<string, (float[], long[])>(StringComparer.Ordinal);
            foreach (var input in slice.Inputs)
                inputs[input.Name] = TensorBlob.Decode((await storage.Chains.GetBlobClient($"{step.Id}/tensors/{input.Name}").DownloadContentAsync(cancellationToken)).Value.Content.ToMemory().Span);
            var outputs = await pool.RunSliceAsync(step.Step, inputs, cancellationToken);
            foreach (var output in slice.Outputs)
                await BlobWrites.UploadAsync(storage.Chains.GetBlobClient($"{step.Id}/tensors/{output.Name}"), new BinaryData(TensorBlob.Encode(outputs[output.Name].Data, outputs[output.Name].Shape)), "application/octet-stream", null, cancellationToken);
            await BlobWrites.UploadAsync(marker, BinaryData.FromString(string.Empty), "text/plain", null, cancellationToken);
            LogStep(step.Id, step.Step, state.Steps);
        }

        if (step.Step + 1 < slices.Count)
        {
            await SendAsync(storage.Queue(StorageOptions.SliceStepsQueue), step with { Step = step.Step + 1 }, cancellationToken);
            return;
        }

        var final = TensorBlob.Decode((await storage.Chains.GetBlobClient($"{step.Id}/tensors/{package.Manifest.OutputTensor}").DownloadContentAsync(cancellationToken)).Value.Content.ToMemory().Span);
        var scores = await pool.ScoreAsync(final.Data, InferencePriority.Bulk, cancellationToken);
        var top = ScorePostprocessor.Rank(scores, package.Manifest.Scores, package.Labels, state.TopK);
        var finished = state with { Status = Finished, Finished = time.GetUtcNow(), Top = top };
        await WriteStateAsync(storage.Chains, finished, cancellationToken);
        await WriteResultForSourceAsync(finished, cancellationToken);
        await foreach (var blob in storage.Chains.GetBlobsAsync(BlobTraits.None, BlobStates.None, $"{step.Id}/", cancellationToken))
        {
            if (blob.Name != $"{step.Id}/state.json")
                await storage.Chains.DeleteBlobIfExistsAsync(blob.Name, cancellationToken: cancellationToken);
        }

        LogFinished(step.Id, top[0].Label);
    }

    /// <summary>
    /// The last word on a step that failed every try: one more attempt, and if that fails too, the chain is marked
    /// failed with the reason, so a caller polling it (and the dropped blob's outcome) says why.
    /// </summary>
    public async Task ConcludeStepAsync(ChainStep step, int tries, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(step);
        try
        {
            await RunStepAsync(step, cancellationToken);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            await FailAsync(step, $"Step {step.Step} failed {tries} times; the last error: {FailureReasons.Describe(ex)}", cancellationToken);
        }
    }

    /// <summary>Records that a step kept failing, so a caller polling the chain sees why.</summary>
    public async Task FailAsync(ChainStep step, string reason, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(step);
        if (await GetAsync(step.Id, cancellationToken) is { Status: Running } state)
        {
            var failed = state with { Status = Failed, Finished = time.GetUtcNow(), Error = reason };
            await WriteStateAsync(storage.Chains, failed, cancellationToken);
            await WriteResultForSourceAsync(failed, cancellationToken);
            LogFailed(step.Id, reason);
        }
    }

    /// <summary>
    /// A sweep's check of one blob in <c>chain-images/</c>: starts a chain whose trigger never came, and moves a chain
    /// that stopped (an instance killed mid-step) by queueing its first unfinished step again.
    /// </summary>
    public async Task<bool> SweepAsync(string name, DateTimeOffset uploaded, TimeSpan grace, CancellationToken cancellationToken)
    {
        var properties = await BlobWrites.PropertiesAsync(storage.ChainImages.GetBlobClient(name), cancellationToken);
        if (properties is null)
            return false;
        var source = new SourceBlob(StorageOptions.ChainImagesContainer, name, SourceBlob.Plain(properties.ETag), properties.ContentLength);
        if (BlobWrites.SourceETagOf(await BlobWrites.PropertiesAsync(storage.ChainResults.GetBlobClient(ResultName(name)), cancellationToken)) == source.ETag)
            return false;
        var now = time.GetUtcNow();
        var id = ChainIdFor(source);
        var state = await GetAsync(id, cancellationToken);
        if (state is null || state.Status != Running)
        {
            if (now - uploaded < grace)
                return false;
            return await StartFromBlobAsync(name, cancellationToken) is BlobOutcome.Processed or BlobOutcome.Failed;
        }

        int next = 0;
        DateTimeOffset lastMove = state.Created;
        await foreach (var blob in storage.Chains.GetBlobsAsync(BlobTraits.None, BlobStates.None, $"{id}/steps/", cancellationToken))
        {
            next = Math.Max(next, int.Parse(Path.GetFileNameWithoutExtension(blob.Name), System.Globalization.CultureInfo.InvariantCulture) + 1);
            if (blob.Properties.LastModified is { } modified && modified > lastMove)
                lastMove = modified;
        }

        if (now - lastMove < grace || next >= state.Steps)
            return false;
        LogResumed(id, next);
        await SendAsync(storage.Queue(StorageOptions.SliceStepsQueue), new ChainStep(id, next), cancellationToken);
        return true;
    }

    /// <summary>A dropped blob's chain id: the same upload always maps to the same chain.</summary>
    private static string ChainIdFor(SourceBlob source) =>
        Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(source.Name + "|" + source.ETag)))[..32];

    private static string MarkerName(string id, int step) => $"{id}/steps/{step}.done";

    private async Task<OutcomeWrite> WriteResultForSourceAsync(ChainState state, CancellationToken cancellationToken)
    {
        if (state.Source is not { } source)
            return OutcomeWrite.Written;
        var written = await BlobWrites.WriteOutcomeAsync(
            storage.ChainResults.GetBlobClient(ResultName(source.Name)),
            storage.ChainImages.GetBlobClient(source.Name),
            source,
            new BinaryData(JsonSerializer.SerializeToUtf8Bytes(state, RecordJson.Options)),
            "application/json",
            cancellationToken);
        return written;
    }

    private static async Task WriteStateAsync(BlobContainerClient chains, ChainState state, CancellationToken cancellationToken) =>
        await BlobWrites.UploadAsync(chains.GetBlobClient($"{state.Id}/state.json"), new BinaryData(JsonSerializer.SerializeToUtf8Bytes(state, RecordJson.Options)), "application/json", null, cancellationToken);

    private static Task SendAsync(QueueClient queue, ChainStep step, CancellationToken cancellationToken) =>
        QueueWrites.SendAsync(queue, JsonSerializer.Serialize(step, RecordJson.Options), cancellationToken);

    [LoggerMessage(Level = LogLevel.Information, Message = "Chain {Id} started on {Model} version {Version} ({Steps} steps)")]
    private partial void LogStarted(string id, string model, string version, int steps);

    [LoggerMessage(Level = LogLevel.Information, Message = "Chain {Id} ran step {Step} of {Steps}")]
    private partial void LogStep(string id, int step, int steps);

    [LoggerMessage(Level = LogLevel.Information, Message = "Chain {Id} finished: {Label}")]
    private partial void LogFinished(string id, string label);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Chain {Id} failed: {Reason}")]
    private partial void LogFailed(string id, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Chain {Id} stopped moving; queued step {Step} again")]
    private partial void LogResumed(string id, int step);

    [LoggerMessage(Level = LogLevel.Warning, Message = "A chain could not start: storage is unreachable ({Reason})")]
    private partial void LogUnavailable(string reason);
}

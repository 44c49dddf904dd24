using System.Text.Json;
using Azure;
using Azure.Storage.Blobs.Models;
using FunctionApp.Api;
using FunctionApp.Imaging;
using FunctionApp.Inference;
using FunctionApp.Storage;
using FunctionApp.Telemetry;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace FunctionApp.Decomposition;

/// <summary>One step of a chain: run slice <see cref="Step"/> of chain <see cref="Id"/>. The queue message.</summary>
public sealed record ChainStep(string Id, int Step);

/// <summary><c>chains/{id}/state.json</c>: where a chain stands, and its answer once finished.</summary>
public sealed record ChainState(string Id, string Model, string Version, int Steps, string Status, int TopK, DateTimeOffset Created, DateTimeOffset? Finished, IReadOnlyList<LabelScore>? Top, string? Error, Batch.SourceBlob? Source = null);

/// <summary>
/// A sliced model run as a chain of function invocations: each step loads only its slice, reads the tensors it
/// needs from blob storage, writes the tensors later steps need, and queues the next step; the last step applies
/// the head and writes the answer. A step that already ran (a redelivered message) only queues its successor
/// again, and the successor's own check absorbs the duplicate, so results are written once. Tensors are deleted
/// when the chain finishes.
/// </summary>
public sealed partial class SliceChain(
    BlobStorage storage,
    ModelCatalog catalog,
    ImagePreprocessor preprocessor,
    IOptions<OnnxRuntimeOptions> runtime,
    IOptions<PredictionOptions> prediction,
    TimeProvider time,
    ILogger<SliceChain> logger)
{
    /// <summary>Preprocesses the image, stores the input tensor and queues step 0.</summary>
    /// <exception cref="ApiRequestException">The model is not sliced.</exception>
    public Task<ChainState> StartAsync(NamedImage image, string? model, string? version, int? topK, CancellationToken cancellationToken) =>
        StartAsync(image, model, version, topK, Guid.NewGuid().ToString("N"), null, cancellationToken);

    /// <summary>
    /// Starts a chain for a blob dropped into <c>chain-images/</c> with the default model: the chain id comes from
    /// the blob's name and ETag, so a redelivered trigger finds the chain already started. When it finishes, its
    /// state is also written to <c>predictions/chains/{name}.json</c>; an unusable image gets a failed state there.
    /// </summary>
    public async Task<ChainState?> StartFromBlobAsync(string name, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        var blob = storage.Service.GetBlobContainerClient(StorageOptions.ChainImagesContainer).GetBlobClient(name);
        BinaryData content;
        string etag;
        try
        {
            var download = (await blob.DownloadContentAsync(cancellationToken)).Value;
            etag = download.Details.ETag.ToString().Trim('"');
            content = download.Content;
        }
        catch (RequestFailedException ex) when (ex.Status == 404)
        {
            return null;
        }

        var id = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(name + "|" + etag)))[..32];
        if (await GetAsync(id, cancellationToken) is { } existing)
            return existing;
        var source = new Batch.SourceBlob(StorageOptions.ChainImagesContainer, name, etag, content.ToMemory().Length);
        try
        {
            return await StartAsync(new NamedImage(name, content.ToMemory()), null, null, null, id, source, cancellationToken);
        }
        catch (Exception ex) when (ex is ImageInputException or ApiRequestException)
        {
            var failed = new ChainState(id, catalog.DefaultModel, string.Empty, 0, "failed", prediction.Value.DefaultTopK, time.GetUtcNow(), time.GetUtcNow(), null, ex.Message, source);
            await WriteStateAsync(failed, cancellationToken);
            await WriteResultForSourceAsync(failed, cancellationToken);
            return failed;
        }
    }

    private async Task<ChainState> StartAsync(NamedImage image, string? model, string? version, int? topK, string id, Batch.SourceBlob? source, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(image);
        var entry = catalog.Resolve(model, version);
        var package = ModelPackage.Open(entry.Directory);
        if (!package.IsSliced)
            throw ApiRequestException.BadRequest($"Model '{entry.Name}' version '{entry.Version}' is not sliced; make a sliced version with the slice command.");
        int k = topK ?? prediction.Value.DefaultTopK;
        if (k < 1)
            throw ApiRequestException.BadRequest("'top' must be at least 1.");

        var tensor = preprocessor.Preprocess(image.Data.Span, package.Manifest.Preprocessing, out _);
        await EnsureAsync(cancellationToken);
        long[] shape = [.. InferencePipeline.InputDims(package.Manifest.Preprocessing).Select(d => (long)d)];
        await Upload($"{id}/tensors/{package.Manifest.InputTensor}", TensorBlob.Encode(tensor, shape), cancellationToken);
        var state = new ChainState(id, entry.Name, entry.Version, package.Manifest.Slices!.Count, "running", k, time.GetUtcNow(), null, null, null, source);
        await WriteStateAsync(state, cancellationToken);
        await storage.Queues.GetQueueClient(StorageOptions.SliceStepsQueue).SendMessageAsync(JsonSerializer.Serialize(new ChainStep(id, 0), ApiJson.Options), cancellationToken);
        LogStarted(id, entry.Name, entry.Version, state.Steps);
        return state;
    }

    /// <summary>The chain's state, or null if there is no such chain.</summary>
    public async Task<ChainState?> GetAsync(string id, CancellationToken cancellationToken)
    {
        if (string.IsNullOrWhiteSpace(id) || id.Any(c => !char.IsAsciiLetterOrDigit(c)))
            return null;
        try
        {
            var content = (await storage.Chains.GetBlobClient($"{id}/state.json").DownloadContentAsync(cancellationToken)).Value.Content;
            return JsonSerializer.Deserialize<ChainState>(content.ToStream(), ApiJson.Options);
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
        if (state is null || state.Status != "running")
            return;

        var package = ModelPackage.Open(catalog.Resolve(state.Model, state.Version).Directory);
        var slices = package.Manifest.Slices!;
        if (step.Step < 0 || step.Step >= slices.Count)
            return;
        var slice = slices[step.Step];
        var marker = storage.Chains.GetBlobClient($"{step.Id}/steps/{step.Step}.done");
        if (!(await marker.ExistsAsync(cancellationToken)).Value)
        {
            var inputs = new Dictionary<string, (float[], long[])>(StringComparer.Ordinal);
            foreach (var input in slice.Inputs)
                inputs[input.Name] = TensorBlob.Decode((await storage.Chains.GetBlobClient($"{step.Id}/tensors/{input.Name}").DownloadContentAsync(cancellationToken)).Value.Content.ToMemory().Span);
            using var runner = new SlicedModelRunner([(Path.Combine(package.Directory, slice.File), slice)], SliceResidency.OneAtATime, runtime.Value.CreateSessionOptions);
            var outputs = runner.Run(inputs);
            foreach (var output in slice.Outputs)
                await Upload($"{step.Id}/tensors/{output.Name}", TensorBlob.Encode(outputs[output.Name].Data, outputs[output.Name].Shape), cancellationToken);
            await marker.UploadAsync(BinaryData.FromString(string.Empty), overwrite: true, cancellationToken);
            LogStep(step.Id, step.Step, state.Steps);
        }

        if (step.Step + 1 < slices.Count)
        {
            await storage.Queues.GetQueueClient(StorageOptions.SliceStepsQueue).SendMessageAsync(JsonSerializer.Serialize(step with { Step = step.Step + 1 }, ApiJson.Options), cancellationToken);
            return;
        }

        var final = TensorBlob.Decode((await storage.Chains.GetBlobClient($"{step.Id}/tensors/{package.Manifest.OutputTensor}").DownloadContentAsync(cancellationToken)).Value.Content.ToMemory().Span);
        var top = new HeadScorer(package, final.Shape).Rank(final.Data, state.TopK);
        var finished = state with { Status = "finished", Finished = time.GetUtcNow(), Top = top };
        await WriteResultForSourceAsync(finished, cancellationToken);
        await WriteStateAsync(finished, cancellationToken);
        await foreach (var blob in storage.Chains.GetBlobsAsync(BlobTraits.None, BlobStates.None, $"{step.Id}/", cancellationToken))
        {
            if (blob.Name != $"{step.Id}/state.json")
                await storage.Chains.DeleteBlobIfExistsAsync(blob.Name, cancellationToken: cancellationToken);
        }

        LogFinished(step.Id, top[0].Label);
    }

    /// <summary>Records that a step kept failing, so a caller polling the chain sees why.</summary>
    public async Task FailAsync(ChainStep step, string reason, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(step);
        if (await GetAsync(step.Id, cancellationToken) is { Status: "running" } state)
        {
            var failed = state with { Status = "failed", Finished = time.GetUtcNow(), Error = $"Step {step.Step} failed: {reason}" };
            await WriteResultForSourceAsync(failed, cancellationToken);
            await WriteStateAsync(failed, cancellationToken);
        }
    }

    private async Task WriteResultForSourceAsync(ChainState state, CancellationToken cancellationToken)
    {
        if (state.Source is { } source)
        {
            await Batch.ImageBlobProcessor.UploadAsync(storage.Predictions.GetBlobClient($"chains/{source.Name}.json"), JsonSerializer.SerializeToUtf8Bytes(state, ApiJson.Options), "application/json", source.ETag, cancellationToken);
        }
    }

    public async Task EnsureAsync(CancellationToken cancellationToken)
    {
        await storage.Service.GetBlobContainerClient(StorageOptions.ChainImagesContainer).CreateIfNotExistsAsync(cancellationToken: cancellationToken);
        await storage.Chains.CreateIfNotExistsAsync(cancellationToken: cancellationToken);
        await storage.Queues.GetQueueClient(StorageOptions.SliceStepsQueue).CreateIfNotExistsAsync(cancellationToken: cancellationToken);
    }

    private Task WriteStateAsync(ChainState state, CancellationToken cancellationToken) =>
        Upload($"{state.Id}/state.json", JsonSerializer.SerializeToUtf8Bytes(state, ApiJson.Options), cancellationToken);

    private Task Upload(string name, byte[] content, CancellationToken cancellationToken) =>
        Batch.ImageBlobProcessor.UploadAsync(storage.Chains.GetBlobClient(name), content, "application/octet-stream", null, cancellationToken);

    [LoggerMessage(Level = LogLevel.Information, Message = "Chain {Id} started on {Model} version {Version} ({Steps} steps)")]
    private partial void LogStarted(string id, string model, string version, int steps);

    [LoggerMessage(Level = LogLevel.Information, Message = "Chain {Id} ran step {Step} of {Steps}")]
    private partial void LogStep(string id, int step, int steps);

    [LoggerMessage(Level = LogLevel.Information, Message = "Chain {Id} finished: {Label}")]
    private partial void LogFinished(string id, string label);
}

using FunctionApp.Decomposition;
using FunctionApp.Storage;
using Microsoft.Azure.Functions.Worker;

namespace FunctionApp.Functions;

/// <summary>One step of a slice chain per queue message; the host retries a failed step and parks it after five tries.</summary>
public sealed class SliceChainFunction(SliceChain chain)
{
    [Function("RunSliceStep")]
    public Task Run([QueueTrigger(StorageOptions.SliceStepsQueue, Connection = BlobFunctions.Connection)] ChainStep step, CancellationToken cancellationToken) =>
        chain.RunStepAsync(step, cancellationToken);

    /// <summary>An image dropped into <c>chain-images/</c> runs through the default (sliced) model's chain.</summary>
    [Function("StartChainFromBlob")]
    public Task StartFromBlob([BlobTrigger("chain-images/{name}", Connection = BlobFunctions.Connection)] Azure.Storage.Blobs.BlobClient blob, string name, CancellationToken cancellationToken) =>
        chain.StartFromBlobAsync(name, cancellationToken);

    [Function("StartChainFromBlobEventGrid")]
    public Task StartFromBlobEventGrid([BlobTrigger("chain-images/{name}", Connection = BlobFunctions.Connection, Source = BlobTriggerSource.EventGrid)] Azure.Storage.Blobs.BlobClient blob, string name, CancellationToken cancellationToken) =>
        chain.StartFromBlobAsync(name, cancellationToken);
}

using FunctionApp.Chains;
using FunctionApp.Storage;
using Microsoft.Azure.Functions.Worker;

namespace FunctionApp.Functions;

/// <summary>An image dropped into <c>chain-images/</c> runs through the default (sliced) model's chain.</summary>
public sealed class SliceChainFunction(SliceChain chain)
{
    [Function("StartChainFromBlob")]
    public Task StartFromBlob([BlobTrigger(StorageOptions.ChainImagesContainer + "/{name}", Connection = BlobFunctions.Connection)] Azure.Storage.Blobs.BlobClient blob, string name, CancellationToken cancellationToken) =>
        chain.StartFromBlobAsync(name, cancellationToken);

    [Function("StartChainFromBlobEventGrid")]
    public Task StartFromBlobEventGrid([BlobTrigger(StorageOptions.ChainImagesContainer + "/{name}", Connection = BlobFunctions.Connection, Source = BlobTriggerSource.EventGrid)] Azure.Storage.Blobs.BlobClient blob, string name, CancellationToken cancellationToken) =>
        chain.StartFromBlobAsync(name, cancellationToken);
}

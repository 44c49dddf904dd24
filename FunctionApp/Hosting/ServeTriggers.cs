using Azure.Storage.Blobs;
using BlobTriggerAttribute = Microsoft.Azure.WebJobs.BlobTriggerAttribute;
using FunctionApp.Batch;
using FunctionApp.Blobs;
using FunctionApp.Chains;
using FunctionApp.Functions;
using FunctionApp.Models;
using FunctionApp.Storage;
using FunctionApp.Triggers;
using Microsoft.Azure.WebJobs;
using QueueTriggerAttribute = Microsoft.Azure.WebJobs.QueueTriggerAttribute;

namespace FunctionApp.Hosting;

/// <summary>
/// <c>serve</c>'s blob and queue triggers, declared for the WebJobs SDK: the engine the Functions host runs the
/// function app's triggers with, so <c>serve</c> gets the same scans and receipts, the same five tries and poison
/// queues, the same queue visibility and dequeue counts. Same names, same containers and queues, same processors as
/// the functions in <c>Functions/</c> (a test compares the two).
/// </summary>
public sealed class ServeTriggers(
    ImageBlobProcessor images,
    BatchJobProcessor batches,
    ModelRefreshService models,
    SliceChain chain,
    TriggerPoison poison)
{
    private const string Connection = BlobFunctions.Connection;

    [FunctionName("ProcessImage")]
    public Task ProcessImage([BlobTrigger(StorageOptions.ImagesContainer + "/{name}", Connection = Connection)] BlobClient blob, string name, CancellationToken cancellationToken) =>
        images.ProcessAsync(name, cancellationToken);

    [FunctionName("ProcessBatch")]
    public Task ProcessBatch([BlobTrigger(StorageOptions.BatchesContainer + "/{name}", Connection = Connection)] BlobClient blob, string name, CancellationToken cancellationToken) =>
        batches.StartAsync(name, cancellationToken);

    [FunctionName("ModelPublished")]
    public Task ModelPublished([BlobTrigger(StorageOptions.ModelsContainer + "/{name}", Connection = Connection)] BlobClient blob, string name, CancellationToken cancellationToken) =>
        models.RefreshAsync(cancellationToken);

    [FunctionName("StartChainFromBlob")]
    public Task StartChainFromBlob([BlobTrigger(StorageOptions.ChainImagesContainer + "/{name}", Connection = Connection)] BlobClient blob, string name, CancellationToken cancellationToken) =>
        chain.StartFromBlobAsync(name, cancellationToken);

    [FunctionName("RunBatchChunk")]
    public Task RunBatchChunk([QueueTrigger(StorageOptions.BatchChunksQueue, Connection = Connection)] string message, CancellationToken cancellationToken) =>
        batches.RunChunkAsync(TriggerMessages.Parse<ChunkWork>(message), cancellationToken);

    [FunctionName("ConcludeBatchChunk")]
    public Task ConcludeBatchChunk([QueueTrigger(StorageOptions.BatchChunksPoisonQueue, Connection = Connection)] string message, CancellationToken cancellationToken) =>
        batches.ConcludeChunkAsync(TriggerMessages.Parse<ChunkWork>(message), TriggerPoison.Tries, cancellationToken);

    [FunctionName("RunSliceStep")]
    public Task RunSliceStep([QueueTrigger(StorageOptions.SliceStepsQueue, Connection = Connection)] string message, CancellationToken cancellationToken) =>
        chain.RunStepAsync(TriggerMessages.Parse<ChainStep>(message), cancellationToken);

    [FunctionName("ConcludeSliceStep")]
    public Task ConcludeSliceStep([QueueTrigger(StorageOptions.SliceStepsPoisonQueue, Connection = Connection)] string message, CancellationToken cancellationToken) =>
        chain.ConcludeStepAsync(TriggerMessages.Parse<ChainStep>(message), TriggerPoison.Tries, cancellationToken);

    [FunctionName("ConcludeBlob")]
    public Task ConcludeBlob([QueueTrigger(StorageOptions.BlobPoisonQueue, Connection = Connection)] string message, CancellationToken cancellationToken) =>
        poison.ConcludeBlobAsync(message, cancellationToken);
}

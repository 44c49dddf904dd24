using FunctionApp.Batch;
using FunctionApp.Chains;
using FunctionApp.Storage;
using FunctionApp.Triggers;
using Microsoft.Azure.Functions.Worker;

namespace FunctionApp.Functions;

/// <summary>
/// Queue triggers: batch chunks, slice-chain steps, and the poison queues where the host parks what failed every
/// try, each of which ends as a failure outcome a user can see.
/// </summary>
public sealed class QueueFunctions(BatchJobProcessor batches, SliceChain chain, TriggerPoison poison)
{
    [Function("RunBatchChunk")]
    public Task RunBatchChunk([QueueTrigger(StorageOptions.BatchChunksQueue, Connection = BlobFunctions.Connection)] string message, CancellationToken cancellationToken) =>
        batches.RunChunkAsync(TriggerMessages.Parse<ChunkWork>(message), cancellationToken);

    [Function("ConcludeBatchChunk")]
    public Task ConcludeBatchChunk([QueueTrigger(StorageOptions.BatchChunksPoisonQueue, Connection = BlobFunctions.Connection)] string message, CancellationToken cancellationToken) =>
        batches.ConcludeChunkAsync(TriggerMessages.Parse<ChunkWork>(message), TriggerPoison.Tries, cancellationToken);

    [Function("RunSliceStep")]
    public Task RunSliceStep([QueueTrigger(StorageOptions.SliceStepsQueue, Connection = BlobFunctions.Connection)] string message, CancellationToken cancellationToken) =>
        chain.RunStepAsync(TriggerMessages.Parse<ChainStep>(message), cancellationToken);

    [Function("ConcludeSliceStep")]
    public Task ConcludeSliceStep([QueueTrigger(StorageOptions.SliceStepsPoisonQueue, Connection = BlobFunctions.Connection)] string message, CancellationToken cancellationToken) =>
        chain.ConcludeStepAsync(TriggerMessages.Parse<ChainStep>(message), TriggerPoison.Tries, cancellationToken);

    [Function("ConcludeBlob")]
    public Task ConcludeBlob([QueueTrigger(StorageOptions.BlobPoisonQueue, Connection = BlobFunctions.Connection)] string message, CancellationToken cancellationToken) =>
        poison.ConcludeBlobAsync(message, cancellationToken);
}

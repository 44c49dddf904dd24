using System.Text.Json;
using FunctionApp.Batch;
using FunctionApp.Blobs;
using FunctionApp.Chains;
using FunctionApp.Models;
using FunctionApp.Storage;
using Microsoft.Extensions.Logging;

namespace FunctionApp.Triggers;

/// <summary>
/// What the trigger engine writes to <c>webjobs-blobtrigger-poison</c> when a blob-triggered function failed every
/// try: which function, and which upload (container, name, ETag).
/// </summary>
public sealed record BlobPoisonMessage(string? Type, string? FunctionId, string? BlobType, string? ContainerName, string? BlobName, string? ETag);

/// <summary>
/// Where the inputs that failed every try end: a blob's poison message becomes its failure outcome (after one last
/// attempt, whose error is the reason recorded), so no upload is left without an answer a user can see.
/// </summary>
public sealed partial class TriggerPoison(
    ImageBlobProcessor images,
    BatchJobProcessor batches,
    SliceChain chains,
    ModelRefreshService models,
    ILogger<TriggerPoison> logger)
{
    /// <summary>How many times the triggers try an input before giving up on it (host.json: blobs.poisonBlobThreshold, queues.maxDequeueCount).</summary>
    public const int Tries = 5;

    private static readonly JsonSerializerOptions MessageJson = new() { PropertyNameCaseInsensitive = true };

    public static BlobPoisonMessage? Parse(string message)
    {
        try
        {
            return JsonSerializer.Deserialize<BlobPoisonMessage>(message, MessageJson);
        }
        catch (JsonException)
        {
            return null;
        }
    }

    /// <summary>Concludes the upload a blob poison message names.</summary>
    public async Task ConcludeBlobAsync(string message, CancellationToken cancellationToken)
    {
        if (Parse(message) is not { ContainerName: { } container, BlobName: { } name, ETag: { } etag })
        {
            LogUnreadable();
            return;
        }

        var plain = etag.Trim('"');
        LogConcluding(container, name, Tries);
        switch (container)
        {
            case StorageOptions.ImagesContainer:
                await images.ConcludeAsync(name, plain, Tries, cancellationToken);
                break;
            case StorageOptions.BatchesContainer:
                await batches.ConcludeAsync(name, plain, Tries, cancellationToken);
                break;
            case StorageOptions.ChainImagesContainer:
                await chains.ConcludeFromBlobAsync(name, plain, Tries, cancellationToken);
                break;
            case StorageOptions.ModelsContainer:
                // A publication that could not be fetched: one more pass, whose rejections are logged and listed in /api/models.
                await models.RefreshAsync(cancellationToken);
                break;
            default:
                LogUnknownContainer(container);
                break;
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Blob {Container}/{Name} failed {Tries} tries; recording its outcome")]
    private partial void LogConcluding(string container, string name, int tries);

    [LoggerMessage(Level = LogLevel.Warning, Message = "A blob poison message could not be read; it is dropped")]
    private partial void LogUnreadable();

    [LoggerMessage(Level = LogLevel.Warning, Message = "A blob poison message names container {Container}, which this app does not watch; it is dropped")]
    private partial void LogUnknownContainer(string container);
}

using Azure.Storage.Blobs;
using FunctionApp.Batch;
using FunctionApp.Blobs;
using FunctionApp.Models;
using FunctionApp.Storage;
using Microsoft.Azure.Functions.Worker;

namespace FunctionApp.Functions;

/// <summary>
/// Blob triggers for <c>images/</c>, <c>batches/</c> and <c>models/</c>, each in two forms over the same processor:
/// polling (the default locally, with Azurite) and the Event Grid source (which Flex Consumption requires). Turn off
/// the pair you do not use with <c>AzureWebJobs.{FunctionName}.Disabled</c> = <c>true</c>.
/// </summary>
public sealed class BlobFunctions(ImageBlobProcessor images, BatchJobProcessor batches, Models.ModelRefreshService models)
{
    public const string Connection = "AzureWebJobsStorage";

    [Function("ProcessImage")]
    public Task ProcessImage([BlobTrigger(StorageOptions.ImagesContainer + "/{name}", Connection = Connection)] BlobClient blob, string name, CancellationToken cancellationToken) =>
        images.ProcessAsync(name, cancellationToken);

    [Function("ProcessImageEventGrid")]
    public Task ProcessImageEventGrid([BlobTrigger(StorageOptions.ImagesContainer + "/{name}", Connection = Connection, Source = BlobTriggerSource.EventGrid)] BlobClient blob, string name, CancellationToken cancellationToken) =>
        images.ProcessAsync(name, cancellationToken);

    [Function("ProcessBatch")]
    public Task ProcessBatch([BlobTrigger(StorageOptions.BatchesContainer + "/{name}", Connection = Connection)] BlobClient blob, string name, CancellationToken cancellationToken) =>
        batches.StartAsync(name, cancellationToken);

    [Function("ProcessBatchEventGrid")]
    public Task ProcessBatchEventGrid([BlobTrigger(StorageOptions.BatchesContainer + "/{name}", Connection = Connection, Source = BlobTriggerSource.EventGrid)] BlobClient blob, string name, CancellationToken cancellationToken) =>
        batches.StartAsync(name, cancellationToken);

    /// <summary>A blob under <c>models/</c> (with <c>Models:Source=Blob</c>): fetch, verify, load and switch to new versions.</summary>
    [Function("ModelPublished")]
    public Task ModelPublished([BlobTrigger(StorageOptions.ModelsContainer + "/{name}", Connection = Connection)] BlobClient blob, string name, CancellationToken cancellationToken) =>
        models.RefreshAsync(cancellationToken);

    [Function("ModelPublishedEventGrid")]
    public Task ModelPublishedEventGrid([BlobTrigger(StorageOptions.ModelsContainer + "/{name}", Connection = Connection, Source = BlobTriggerSource.EventGrid)] BlobClient blob, string name, CancellationToken cancellationToken) =>
        models.RefreshAsync(cancellationToken);
}

using Azure.Storage.Blobs;
using FunctionApp.Batch;
using Microsoft.Azure.Functions.Worker;

namespace FunctionApp.Functions;

/// <summary>
/// Blob triggers for <c>images/</c> and <c>batches/</c>, each in two forms over the same processor: polling
/// (the default locally, with Azurite) and the Event Grid source (which Flex Consumption requires). Turn off
/// the pair you do not use with <c>AzureWebJobs.{FunctionName}.Disabled</c> = <c>true</c>.
/// </summary>
public sealed class BlobFunctions(ImageBlobProcessor images, BatchJobProcessor batches, Inference.ModelRefreshService models)
{
    public const string Connection = "AzureWebJobsStorage";

    [Function("ProcessImage")]
    public Task ProcessImage([BlobTrigger("images/{name}", Connection = Connection)] BlobClient blob, string name, CancellationToken cancellationToken) =>
        images.ProcessAsync(name, cancellationToken);

    [Function("ProcessImageEventGrid")]
    public Task ProcessImageEventGrid([BlobTrigger("images/{name}", Connection = Connection, Source = BlobTriggerSource.EventGrid)] BlobClient blob, string name, CancellationToken cancellationToken) =>
        images.ProcessAsync(name, cancellationToken);

    [Function("ProcessBatch")]
    public Task ProcessBatch([BlobTrigger("batches/{name}", Connection = Connection)] BlobClient blob, string name, CancellationToken cancellationToken) =>
        batches.ProcessAsync(name, cancellationToken);

    /// <summary>A blob under <c>models/</c> (with <c>Models:Source=Blob</c>): fetch, verify, load and switch to new versions.</summary>
    [Function("ModelPublished")]
    public Task ModelPublished([BlobTrigger("models/{name}", Connection = Connection)] BlobClient blob, string name, CancellationToken cancellationToken) =>
        models.RefreshAsync(cancellationToken);

    [Function("ModelPublishedEventGrid")]
    public Task ModelPublishedEventGrid([BlobTrigger("models/{name}", Connection = Connection, Source = BlobTriggerSource.EventGrid)] BlobClient blob, string name, CancellationToken cancellationToken) =>
        models.RefreshAsync(cancellationToken);

    [Function("ProcessBatchEventGrid")]
    public Task ProcessBatchEventGrid([BlobTrigger("batches/{name}", Connection = Connection, Source = BlobTriggerSource.EventGrid)] BlobClient blob, string name, CancellationToken cancellationToken) =>
        batches.ProcessAsync(name, cancellationToken);
}

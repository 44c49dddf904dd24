using System.Text.Json;
using Azure.Storage.Blobs.Models;
using Azure.Storage.Blobs.Specialized;
using Azure.Storage.Blobs;
using Azure;
using FunctionApp.Classification;
using FunctionApp.Imaging;
using FunctionApp.Models;
using FunctionApp.Storage;
using FunctionApp.Telemetry;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace FunctionApp.Blobs;

/// <summary>
/// Handles one blob dropped into <c>images/</c>. Its outcome is one record, <c>predictions/{name}.json</c>: the
/// prediction (with the preprocessed image and thumbnails beside it), or, when the image cannot be used, the reason,
/// with the original moved to <c>images-failed/{name}</c>. A new upload under the same name replaces the outcome; a
/// redelivered trigger for the same upload does nothing; a trigger for an upload already replaced writes nothing.
/// </summary>
public sealed partial class ImageBlobProcessor(
    BlobStorage storage,
    ImageClassifier classifier,
    ModelCatalog catalog,
    ImagePreprocessor preprocessor,
    IOptions<PreprocessingOutputOptions> outputOptions,
    ILogger<ImageBlobProcessor> logger)
{
    private readonly PreprocessingOutputOptions _outputs = outputOptions.Value;

    public static string PredictionName(string name) => name + ".json";

    public static string ThumbnailName(int size, string name) => $"{size}/{name}";

    /// <summary>Classifies the image and records its outcome. Failures that are not the image's fault throw, for the trigger to try again.</summary>
    public Task<BlobOutcome> ProcessAsync(string name, CancellationToken cancellationToken) =>
        InferenceActivity.TraceBlobAsync("process image", StorageOptions.ImagesContainer, name, () => ProcessCoreAsync(name, null, cancellationToken));

    /// <summary>
    /// The last word on an upload that failed every try: one more attempt, and if that fails too, a failure record
    /// with its reason instead of another retry. Does nothing when <paramref name="etag"/> is no longer the upload in place.
    /// </summary>
    public Task<BlobOutcome> ConcludeAsync(string name, string etag, int tries, CancellationToken cancellationToken) =>
        InferenceActivity.TraceBlobAsync("conclude image", StorageOptions.ImagesContainer, name, () => ProcessCoreAsync(name, (etag, tries), cancellationToken));

    private async Task<BlobOutcome> ProcessCoreAsync(string name, (string ETag, int Tries)? conclude, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        var input = storage.Images.GetBlobClient(name);
        var record = storage.Predictions.GetBlobClient(PredictionName(name));
        var properties = await BlobWrites.PropertiesAsync(input, cancellationToken);
        if (properties is null || (conclude is { } c && SourceBlob.Plain(properties.ETag) != c.ETag))
        {
            LogMissing(name);
            return BlobOutcome.Missing;
        }

        var origin = new SourceBlob(StorageOptions.ImagesContainer, name, SourceBlob.Plain(properties.ETag), properties.ContentLength);
        if (BlobWrites.SourceETagOf(await BlobWrites.PropertiesAsync(record, cancellationToken)) == origin.ETag)
        {
            // This upload has its outcome; a failed one may still need its original removed from images/.
            await RemoveFailedOriginalAsync(input, origin, cancellationToken);
            LogAlreadyProcessed(name, origin.ETag);
            return BlobOutcome.AlreadyProcessed;
        }

        try
        {
            return await ClassifyAsync(input, record, origin, cancellationToken);
        }
        catch (ImageInputException ex)
        {
            return await FailAsync(input, record, origin, FailureReasons.Kind(ex.Error), ex.Message, cancellationToken);
        }
        catch (Exception ex) when (conclude is { } last && ex is not OperationCanceledException)
        {
            return await FailAsync(input, record, origin, FailureReasons.ProcessingKind, FailureReasons.AfterRetries(ex, last.Tries), cancellationToken);
        }
    }

    private async Task<BlobOutcome> ClassifyAsync(BlobClient input, BlobClient record, SourceBlob origin, CancellationToken cancellationToken)
    {
        var name = origin.Name;
        if (origin.Size > preprocessor.Decoder.Limits.MaxBytes)
            throw new ImageInputException(ImageInputError.TooLarge, $"The image is {origin.Size:N0} bytes, over the limit of {preprocessor.Decoder.Limits.MaxBytes:N0} bytes (ImageLimits:MaxBytes).");

        BinaryData content;
        try
        {
            content = (await input.DownloadContentAsync(new BlobDownloadOptions { Conditions = new BlobRequestConditions { IfMatch = origin.AsETag() } }, cancellationToken)).Value.Content;
        }
        catch (RequestFailedException ex) when (ex.Status is 404 or 412)
        {
            LogMissing(name);
            return BlobOutcome.Missing;
        }

        var entry = catalog.Resolve();
        var result = await classifier.ClassifyAsync(new NamedImage(name, content.ToMemory()), entry, cancellationToken: cancellationToken);

        var outputs = new List<BlobClient>();
        string? preprocessedName = null;
        if (_outputs.WritePreprocessed)
        {
            var spec = (await classifier.GetPackageAsync(entry, cancellationToken)).Manifest.Preprocessing;
            var png = await preprocessor.RenderPngAsync(content.ToMemory(), spec, cancellationToken);
            var preprocessed = storage.Preprocessed.GetBlobClient(name);
            await BlobWrites.UploadAsync(preprocessed, new BinaryData(png), "image/png", origin.ETag, cancellationToken);
            outputs.Add(preprocessed);
            preprocessedName = $"{StorageOptions.PreprocessedContainer}/{name}";
        }

        foreach (var size in _outputs.Thumbnails)
        {
            var thumbnail = storage.Thumbnails.GetBlobClient(ThumbnailName(size, name));
            await BlobWrites.UploadAsync(thumbnail, new BinaryData(await preprocessor.ThumbnailAsync(content.ToMemory(), size, cancellationToken)), "image/png", origin.ETag, cancellationToken);
            outputs.Add(thumbnail);
        }

        var image = result.Images[0];
        var prediction = new BlobPrediction(name, BlobOutcomeStatus.Ok, result.Model, result.Version, image.Top!, image.Timings, origin, preprocessedName, image.LowConfidence);
        var written = await BlobWrites.WriteOutcomeAsync(record, input, origin, new BinaryData(JsonSerializer.SerializeToUtf8Bytes(prediction, RecordJson.Options)), "application/json", cancellationToken);
        switch (written)
        {
            case OutcomeWrite.Written:
                // The image's earlier failure, if it had one, is no longer its outcome.
                await BlobWrites.DeleteStaleAsync(storage.Failed.GetBlobClient(name), input, origin.ETag, cancellationToken);
                LogProcessed(name, result.Model, result.Version, image.Top![0].Label);
                return BlobOutcome.Processed;
            case OutcomeWrite.AlreadyWritten:
                LogAlreadyProcessed(name, origin.ETag);
                return BlobOutcome.AlreadyProcessed;
            default:
                foreach (var output in outputs)
                    await BlobWrites.DeleteIfFromAsync(output, origin.ETag, cancellationToken);
                LogMissing(name);
                return BlobOutcome.Missing;
        }
    }

    /// <summary>Keeps the original in the failure container, records why, and only then removes it from <c>images/</c>.</summary>
    private async Task<BlobOutcome> FailAsync(BlobClient input, BlobClient record, SourceBlob origin, string kind, string reason, CancellationToken cancellationToken)
    {
        var name = origin.Name;
        var kept = storage.Failed.GetBlobClient(name);
        try
        {
            await CopyOriginalAsync(input, kept, origin, kind, reason, cancellationToken);
        }
        catch (RequestFailedException ex) when (ex.Status is 404 or 412)
        {
            LogMissing(name);
            return BlobOutcome.Missing;
        }

        var failure = new BlobFailure(name, BlobOutcomeStatus.Failed, kind, reason, origin, $"{StorageOptions.FailedContainer}/{name}");
        var written = await BlobWrites.WriteOutcomeAsync(record, input, origin, new BinaryData(JsonSerializer.SerializeToUtf8Bytes(failure, RecordJson.Options)), "application/json", cancellationToken);
        if (written == OutcomeWrite.Superseded)
        {
            await BlobWrites.DeleteIfFromAsync(kept, origin.ETag, cancellationToken);
            LogMissing(name);
            return BlobOutcome.Missing;
        }

        // The image's earlier prediction, if it had one, is no longer its outcome.
        await BlobWrites.DeleteStaleAsync(storage.Preprocessed.GetBlobClient(name), input, origin.ETag, cancellationToken);
        foreach (var size in _outputs.Thumbnails)
            await BlobWrites.DeleteStaleAsync(storage.Thumbnails.GetBlobClient(ThumbnailName(size, name)), input, origin.ETag, cancellationToken);
        await RemoveFailedOriginalAsync(input, origin, cancellationToken);
        LogFailed(name, kind, reason);
        return BlobOutcome.Failed;
    }

    /// <summary>Streams the upload into the failure container (any size, any credential), with the reason in its metadata.</summary>
    private static async Task CopyOriginalAsync(BlobClient input, BlobClient kept, SourceBlob origin, string kind, string reason, CancellationToken cancellationToken)
    {
        await using var source = await input.OpenReadAsync(new BlobOpenReadOptions(allowModifications: false) { Conditions = new BlobRequestConditions { IfMatch = origin.AsETag() } }, cancellationToken);
        var options = new BlobUploadOptions
        {
            Metadata = new Dictionary<string, string>
            {
                [BlobWrites.SourceETagMetadata] = origin.ETag,
                ["errorkind"] = kind,
                ["error"] = BlobWrites.MetadataText(reason),
            },
        };
        try
        {
            await kept.UploadAsync(source, options, cancellationToken);
        }
        catch (RequestFailedException ex) when (ex.ErrorCode == BlobErrorCode.ContainerNotFound)
        {
            await kept.GetParentBlobContainerClient().CreateIfNotExistsAsync(cancellationToken: cancellationToken);
            source.Position = 0;
            await kept.UploadAsync(source, options, cancellationToken);
        }
    }

    /// <summary>Removes a failed upload from <c>images/</c> once its record is written, unless it was replaced meanwhile.</summary>
    private async Task RemoveFailedOriginalAsync(BlobClient input, SourceBlob origin, CancellationToken cancellationToken)
    {
        if (BlobWrites.SourceETagOf(await BlobWrites.PropertiesAsync(storage.Failed.GetBlobClient(origin.Name), cancellationToken)) != origin.ETag)
            return;
        try
        {
            await input.DeleteIfExistsAsync(conditions: new BlobRequestConditions { IfMatch = origin.AsETag() }, cancellationToken: cancellationToken);
        }
        catch (RequestFailedException ex) when (ex.Status == 412)
        {
            // A newer upload replaced it: that one is processed on its own.
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Classified blob {Name} with {Model} version {Version}: {Label}")]
    private partial void LogProcessed(string name, string model, string version, string label);

    [LoggerMessage(Level = LogLevel.Information, Message = "Blob {Name} (ETag {ETag}) was already processed")]
    private partial void LogAlreadyProcessed(string name, string etag);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Blob {Name} could not be classified ({ErrorKind}): {Reason}; its original is kept in the failure container")]
    private partial void LogFailed(string name, string errorKind, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "Blob {Name} no longer exists or was replaced; nothing to do for this upload")]
    private partial void LogMissing(string name);
}

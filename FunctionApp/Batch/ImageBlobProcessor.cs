using System.Diagnostics;
using System.Text.Json;
using Azure;
using Azure.Storage.Blobs;
using Azure.Storage.Blobs.Models;
using FunctionApp.Api;
using FunctionApp.Imaging;
using FunctionApp.Inference;
using FunctionApp.Storage;
using FunctionApp.Telemetry;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace FunctionApp.Batch;

/// <summary>
/// Handles one blob dropped into <c>images/</c>: classify it, write the preprocessed image and
/// <c>predictions/{name}.json</c>; or, if the image cannot be used, move it to <c>images-failed/{name}</c>
/// beside <c>{name}.error.json</c>. Each output is one whole upload, and the prediction (written last)
/// records the source ETag, so running twice for the same upload does nothing the second time.
/// </summary>
public sealed partial class ImageBlobProcessor(
    BlobStorage storage,
    ImageClassifier classifier,
    ModelCatalog catalog,
    ImagePreprocessor preprocessor,
    IOptions<PreprocessingOutputOptions> outputOptions,
    ILogger<ImageBlobProcessor> logger)
{
    public const string SourceETagMetadata = "sourceetag";
    private readonly PreprocessingOutputOptions _outputs = outputOptions.Value;

    public static string PredictionName(string name) => name + ".json";

    public static string ErrorName(string name) => name + ".error.json";

    public Task<BlobOutcome> ProcessAsync(string name, CancellationToken cancellationToken) =>
        InferenceActivity.TraceBlobAsync("process image", StorageOptions.ImagesContainer, name, () => ProcessCoreAsync(name, cancellationToken));

    private async Task<BlobOutcome> ProcessCoreAsync(string name, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        var source = storage.Images.GetBlobClient(name);
        BlobProperties properties;
        try
        {
            properties = (await source.GetPropertiesAsync(cancellationToken: cancellationToken)).Value;
        }
        catch (RequestFailedException ex) when (ex.Status == 404)
        {
            LogMissing(name);
            return BlobOutcome.Missing;
        }

        var etag = properties.ETag.ToString().Trim('"');
        var origin = new SourceBlob(StorageOptions.ImagesContainer, name, etag, properties.ContentLength);
        if (await HasRecordAsync(storage.Predictions.GetBlobClient(PredictionName(name)), etag, cancellationToken))
        {
            LogAlreadyProcessed(name, etag);
            return BlobOutcome.AlreadyProcessed;
        }

        if (properties.ContentLength > preprocessor.Decoder.Limits.MaxBytes)
        {
            var tooLarge = new ImageInputException(ImageInputError.TooLarge, $"The image is {properties.ContentLength:N0} bytes, over the limit of {preprocessor.Decoder.Limits.MaxBytes:N0} bytes (ImageLimits:MaxBytes).");
            return await FailAsync(origin, properties.ETag, tooLarge, cancellationToken);
        }

        BinaryData content;
        try
        {
            content = (await source.DownloadContentAsync(new BlobDownloadOptions { Conditions = new BlobRequestConditions { IfMatch = properties.ETag } }, cancellationToken)).Value.Content;
        }
        catch (RequestFailedException ex) when (ex.Status is 404 or 412)
        {
            // Deleted or replaced since we looked: the newer upload has its own trigger.
            LogMissing(name);
            return BlobOutcome.Missing;
        }

        var entry = catalog.Resolve();
        PredictionResult result;
        try
        {
            result = await classifier.ClassifyAsync(new NamedImage(name, content.ToMemory()), entry, cancellationToken: cancellationToken);
        }
        catch (ImageInputException ex)
        {
            return await FailAsync(origin, properties.ETag, ex, cancellationToken);
        }

        string? preprocessedName = null;
        if (_outputs.WritePreprocessed)
        {
            var spec = (await classifier.GetPackageAsync(entry, cancellationToken)).Manifest.Preprocessing;
            using (var rendered = preprocessor.Render(content.ToMemory().Span, spec))
                await UploadAsync(storage.Preprocessed.GetBlobClient(name), ImagePreprocessor.EncodePng(rendered), "image/png", null, cancellationToken);
            preprocessedName = $"{StorageOptions.PreprocessedContainer}/{name}";
        }

        foreach (var size in _outputs.Thumbnails)
            await UploadAsync(storage.Preprocessed.GetBlobClient($"thumbnails/{size}/{name}"), preprocessor.Thumbnail(content.ToMemory().Span, size), "image/png", null, cancellationToken);

        var image = result.Images[0];
        var record = new BlobPrediction(name, result.Model, result.Version, image.Top!, image.Timings, origin, preprocessedName);
        await UploadAsync(storage.Predictions.GetBlobClient(PredictionName(name)), JsonSerializer.SerializeToUtf8Bytes(record, ApiJson.Options), "application/json", etag, cancellationToken);
        LogProcessed(name, result.Model, result.Version, image.Top![0].Label);
        return BlobOutcome.Processed;
    }

    /// <summary>Copies the original to the failure container, records why, and only then removes it from <c>images/</c>.</summary>
    private async Task<BlobOutcome> FailAsync(SourceBlob origin, ETag etag, ImageInputException error, CancellationToken cancellationToken)
    {
        var name = origin.Name;
        var failed = storage.Failed.GetBlobClient(name);
        var source = storage.Images.GetBlobClient(name);
        var errorRecord = storage.Failed.GetBlobClient(ErrorName(name));
        if (!await HasRecordAsync(errorRecord, origin.ETag, cancellationToken))
        {
            try
            {
                var copy = await failed.StartCopyFromUriAsync(source.Uri, new BlobCopyFromUriOptions { SourceConditions = new BlobRequestConditions { IfMatch = etag } }, cancellationToken);
                await copy.WaitForCompletionAsync(cancellationToken);
            }
            catch (RequestFailedException ex) when (ex.Status is 404 or 412)
            {
                LogMissing(name);
                return BlobOutcome.Missing;
            }

            var record = new BlobFailure(name, error.Error, error.Message, origin, $"{StorageOptions.FailedContainer}/{name}");
            await UploadAsync(errorRecord, JsonSerializer.SerializeToUtf8Bytes(record, ApiJson.Options), "application/json", origin.ETag, cancellationToken);
        }

        try
        {
            await source.DeleteIfExistsAsync(conditions: new BlobRequestConditions { IfMatch = etag }, cancellationToken: cancellationToken);
        }
        catch (RequestFailedException ex) when (ex.Status == 412)
        {
            // A newer upload replaced it: that one is processed on its own.
        }

        LogFailed(name, error.Error, error.Message);
        return BlobOutcome.Failed;
    }

    private static async Task<bool> HasRecordAsync(BlobClient record, string etag, CancellationToken cancellationToken)
    {
        try
        {
            var properties = await record.GetPropertiesAsync(cancellationToken: cancellationToken);
            return properties.Value.Metadata.TryGetValue(SourceETagMetadata, out var recorded) && recorded == etag;
        }
        catch (RequestFailedException ex) when (ex.Status == 404)
        {
            return false;
        }
    }

    /// <summary>One Put Blob: the blob appears whole or not at all.</summary>
    internal static Task UploadAsync(BlobClient blob, byte[] content, string contentType, string? sourceETag, CancellationToken cancellationToken) =>
        blob.UploadAsync(
            new BinaryData(content),
            new BlobUploadOptions
            {
                HttpHeaders = new BlobHttpHeaders { ContentType = contentType },
                Metadata = sourceETag is null ? null : new Dictionary<string, string> { [SourceETagMetadata] = sourceETag },
                TransferOptions = new Azure.Storage.StorageTransferOptions { InitialTransferSize = 256L * 1024 * 1024, MaximumTransferSize = 256L * 1024 * 1024 },
            },
            cancellationToken);

    [LoggerMessage(Level = LogLevel.Information, Message = "Classified blob {Name} with {Model} version {Version}: {Label}")]
    private partial void LogProcessed(string name, string model, string version, string label);

    [LoggerMessage(Level = LogLevel.Information, Message = "Blob {Name} (ETag {ETag}) was already processed")]
    private partial void LogAlreadyProcessed(string name, string etag);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Blob {Name} could not be classified ({ErrorKind}): {Reason}; moved to the failure container")]
    private partial void LogFailed(string name, ImageInputError errorKind, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "Blob {Name} no longer exists or changed; nothing to do")]
    private partial void LogMissing(string name);
}

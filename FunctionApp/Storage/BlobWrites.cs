using Azure.Storage.Blobs.Models;
using Azure.Storage.Blobs.Specialized;
using Azure.Storage.Blobs;
using Azure;

namespace FunctionApp.Storage;

/// <summary>What became of a write of an outcome record.</summary>
public enum OutcomeWrite
{
    /// <summary>The record now describes this upload.</summary>
    Written,

    /// <summary>The record already described this upload (a redelivered trigger): nothing was written.</summary>
    AlreadyWritten,

    /// <summary>The input was replaced or removed since: a newer upload owns the record, so nothing was written.</summary>
    Superseded,
}

/// <summary>
/// Writes that keep "exactly one current outcome per input": every output is one whole upload, tagged with the ETag of
/// the upload it came from, and an input's outcome record is only ever replaced by the outcome of the upload that is
/// current in storage.
/// </summary>
public static class BlobWrites
{
    /// <summary>The metadata key that names the upload (its ETag) an output was made from.</summary>
    public const string SourceETagMetadata = "sourceetag";

    private const int MaxRaces = 8;

    /// <summary>
    /// One Put Blob (the blob appears whole or not at all), creating its container if it went missing. With
    /// <paramref name="conditions"/>, a 412 or 409 is the caller's to handle.
    /// </summary>
    public static async Task<Response<BlobContentInfo>> UploadAsync(BlobClient blob, BinaryData content, string contentType, string? sourceETag, CancellationToken cancellationToken, BlobRequestConditions? conditions = null, IDictionary<string, string>? metadata = null)
    {
        ArgumentNullException.ThrowIfNull(blob);
        var allMetadata = new Dictionary<string, string>(metadata ?? new Dictionary<string, string>(), StringComparer.Ordinal);
        if (sourceETag is not null)
            allMetadata[SourceETagMetadata] = sourceETag;
        var options = new BlobUploadOptions
        {
            HttpHeaders = new BlobHttpHeaders { ContentType = contentType },
            Metadata = allMetadata,
            Conditions = conditions,
            TransferOptions = new Azure.Storage.StorageTransferOptions { InitialTransferSize = 256L * 1024 * 1024, MaximumTransferSize = 256L * 1024 * 1024 },
        };
        try
        {
            return await blob.UploadAsync(content, options, cancellationToken);
        }
        catch (RequestFailedException ex) when (ex.ErrorCode == BlobErrorCode.ContainerNotFound)
        {
            await blob.GetParentBlobContainerClient().CreateIfNotExistsAsync(cancellationToken: cancellationToken);
            return await blob.UploadAsync(content, options, cancellationToken);
        }
    }

    /// <summary>A blob's properties, or null when it does not exist (or its container does not).</summary>
    public static async Task<BlobProperties?> PropertiesAsync(BlobClient blob, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(blob);
        try
        {
            return (await blob.GetPropertiesAsync(cancellationToken: cancellationToken)).Value;
        }
        catch (RequestFailedException ex) when (ex.Status == 404)
        {
            return null;
        }
    }

    /// <summary>The ETag of the upload an output was made from, or null.</summary>
    public static string? SourceETagOf(BlobProperties? properties) =>
        properties is not null && properties.Metadata.TryGetValue(SourceETagMetadata, out var etag) ? etag : null;

    /// <summary>
    /// Replaces the outcome record of an input with the outcome of one upload of it, provided that upload is still
    /// the input's current version. Read the record, check the input, write the record only if it is unchanged since
    /// it was read: a writer for an older upload either sees the newer upload in the input, or loses the race on the
    /// record and looks again. So whatever order concurrent or redelivered triggers finish in, the record ends up
    /// describing the newest upload.
    /// </summary>
    public static async Task<OutcomeWrite> WriteOutcomeAsync(BlobClient record, BlobClient input, SourceBlob source, BinaryData content, string contentType, CancellationToken cancellationToken, IDictionary<string, string>? metadata = null)
    {
        ArgumentNullException.ThrowIfNull(record);
        ArgumentNullException.ThrowIfNull(input);
        ArgumentNullException.ThrowIfNull(source);
        for (int race = 0; race < MaxRaces; race++)
        {
            var current = await PropertiesAsync(record, cancellationToken);
            if (SourceETagOf(current) == source.ETag)
                return OutcomeWrite.AlreadyWritten;
            var now = await PropertiesAsync(input, cancellationToken);
            if (now is null || SourceBlob.Plain(now.ETag) != source.ETag)
                return OutcomeWrite.Superseded;

            var condition = current is null ? new BlobRequestConditions { IfNoneMatch = ETag.All } : new BlobRequestConditions { IfMatch = current.ETag };
            try
            {
                await UploadAsync(record, content, contentType, source.ETag, cancellationToken, condition, metadata);
                return OutcomeWrite.Written;
            }
            catch (RequestFailedException ex) when (ex.Status is 409 or 412)
            {
                // Another writer got there between the read and the write: look again.
            }
        }

        throw new RequestFailedException(409, $"The outcome record '{record.Name}' kept changing under concurrent writers.");
    }

    /// <summary>
    /// Deletes an output left by another upload of the same input: kept when it comes from <paramref name="ownETag"/>
    /// or from the upload now in place (whose trigger may be writing it), or when it changed since it was read.
    /// </summary>
    public static async Task DeleteStaleAsync(BlobClient output, BlobClient input, string ownETag, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(input);
        var properties = await PropertiesAsync(output, cancellationToken);
        var from = SourceETagOf(properties);
        if (properties is null || from == ownETag)
            return;
        var current = await PropertiesAsync(input, cancellationToken);
        if (current is not null && from == SourceBlob.Plain(current.ETag))
            return;
        await DeleteIfUnchangedAsync(output, properties.ETag, cancellationToken);
    }

    /// <summary>Deletes an output made from <paramref name="etag"/>, if it still is (a writer that lost the race cleans up after itself).</summary>
    public static async Task DeleteIfFromAsync(BlobClient output, string etag, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(output);
        var properties = await PropertiesAsync(output, cancellationToken);
        if (properties is not null && SourceETagOf(properties) == etag)
            await DeleteIfUnchangedAsync(output, properties.ETag, cancellationToken);
    }

    /// <summary>Text as a metadata value may hold it: printable ASCII, at most 1,024 characters.</summary>
    public static string MetadataText(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var chars = text.Take(1024).Select(c => c is >= ' ' and <= '~' ? c : '?').ToArray();
        return new string(chars);
    }

    private static async Task DeleteIfUnchangedAsync(BlobClient output, ETag etag, CancellationToken cancellationToken)
    {
        try
        {
            await output.DeleteIfExistsAsync(conditions: new BlobRequestConditions { IfMatch = etag }, cancellationToken: cancellationToken);
        }
        catch (RequestFailedException ex) when (ex.Status is 404 or 412)
        {
            // Rewritten or removed meanwhile: whoever did that owns it now.
        }
    }
}

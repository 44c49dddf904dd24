using System.Text.Json;
using Azure.Storage.Blobs.Models;
using Azure.Storage.Blobs;
using Azure;
using FunctionApp.Imaging;
using FunctionApp.Storage;
using Microsoft.Extensions.Options;

namespace FunctionApp.Batch;

/// <summary>
/// One image of a batch: its index and name, where it lives (an archive entry, or a blob a manifest names), and why
/// it will not be read, when it will not.
/// </summary>
public sealed record BatchEntry(int Index, string Name, string? ProblemKind = null, string? Problem = null, ZipEntryLocation? Zip = null);

/// <summary>A whole batch cannot be processed (too many entries, too large, not an archive or manifest).</summary>
public sealed class BatchRejectedException(string message) : Exception(message)
{
    public BatchRejectedException()
        : this("The batch cannot be processed.")
    {
    }

    public BatchRejectedException(string message, Exception innerException)
        : this(message + " " + innerException?.Message)
    {
    }
}

/// <summary>The batch blob was replaced or removed while its job ran: the new upload is a job of its own.</summary>
public sealed class BatchSupersededException : Exception
{
    public BatchSupersededException()
        : base("The batch blob was replaced or removed.")
    {
    }

    public BatchSupersededException(string message)
        : base(message)
    {
    }

    public BatchSupersededException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}

/// <summary>
/// Where a batch's images come from: the entries of a zip archive (read by range from the batch blob: its central
/// directory, then each entry's bytes), or the blobs in <c>images/</c> that a JSON manifest names
/// (<c>{"images": ["a.jpg", "folder/b.png"]}</c>). Every read is pinned to the batch upload's ETag.
/// </summary>
public sealed class BatchSources(BlobStorage storage, ImageDecoder decoder, IOptions<BatchOptions> options)
{
    private static readonly HashSet<string> ArchiveExtensions = new(StringComparer.OrdinalIgnoreCase) { ".zip", ".jar", ".tar", ".gz", ".tgz", ".7z", ".rar", ".bz2", ".xz" };
    private readonly BatchOptions _options = options.Value;

    public static bool IsArchive(string batchName) => batchName.EndsWith(".zip", StringComparison.OrdinalIgnoreCase);

    public static bool IsManifest(string batchName) => batchName.EndsWith(".json", StringComparison.OrdinalIgnoreCase);

    /// <summary>Lists the batch's images, each checked against the limits before any is read.</summary>
    /// <exception cref="BatchRejectedException">The batch as a whole cannot be processed.</exception>
    /// <exception cref="BatchSupersededException">The upload was replaced or removed meanwhile.</exception>
    public async Task<IReadOnlyList<BatchEntry>> IndexAsync(SourceBlob batch, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(batch);
        if (IsArchive(batch.Name))
            return await IndexArchiveAsync(batch, cancellationToken);
        if (IsManifest(batch.Name))
            return await IndexManifestAsync(batch, cancellationToken);
        throw new BatchRejectedException($"'{batch.Name}' is neither a .zip archive nor a .json manifest.");
    }

    /// <summary>One entry's bytes.</summary>
    /// <exception cref="ImageInputException">The entry breaks a limit or cannot be read.</exception>
    /// <exception cref="BatchSupersededException">The batch upload was replaced or removed meanwhile.</exception>
    public async Task<byte[]> ReadAsync(SourceBlob batch, BatchEntry entry, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(batch);
        ArgumentNullException.ThrowIfNull(entry);
        long maxBytes = decoder.Limits.MaxBytes;
        if (entry.Zip is { } zip)
            return await ZipDirectory.ReadEntryAsync(Ranges(batch), batch.Size, zip, maxBytes, cancellationToken);

        var blob = storage.Images.GetBlobClient(entry.Name);
        try
        {
            var properties = await blob.GetPropertiesAsync(cancellationToken: cancellationToken);
            if (properties.Value.ContentLength > maxBytes)
                throw new ImageInputException(ImageInputError.TooLarge, $"The blob is {properties.Value.ContentLength:N0} bytes, over the limit of {maxBytes:N0} bytes (ImageLimits:MaxBytes).");
            return (await blob.DownloadContentAsync(new BlobDownloadOptions { Conditions = new BlobRequestConditions { IfMatch = properties.Value.ETag } }, cancellationToken)).Value.Content.ToArray();
        }
        catch (RequestFailedException ex) when (ex.Status is 404 or 412)
        {
            throw new ImageInputException(ImageInputError.Empty, $"The blob '{entry.Name}' does not exist in the images container.");
        }
    }

    private async Task<IReadOnlyList<BatchEntry>> IndexArchiveAsync(SourceBlob batch, CancellationToken cancellationToken)
    {
        var files = await ZipDirectory.ReadAsync(Ranges(batch), batch.Size, (long)_options.MaxArchiveEntries * BatchOptions.DirectoryBytesPerEntry, cancellationToken);
        if (files.Count > _options.MaxArchiveEntries)
            throw new BatchRejectedException($"The archive holds {files.Count:N0} entries, over the limit of {_options.MaxArchiveEntries:N0} (Batch:MaxArchiveEntries).");
        long declared = files.Sum(e => e.Size);
        if (declared > _options.MaxArchiveUncompressedBytes)
            throw new BatchRejectedException($"The archive holds {declared:N0} bytes uncompressed, over the limit of {_options.MaxArchiveUncompressedBytes:N0} (Batch:MaxArchiveUncompressedBytes).");
        return files.Select((file, i) => Check(i, file)).ToList();
    }

    private BatchEntry Check(int index, ZipEntryLocation file)
    {
        if (file.Name.Length > 1024)
            return new BatchEntry(index, file.Name[..1024], "rejected", "The entry name is longer than 1,024 characters; it is not processed.");
        var name = file.Name.Replace('\\', '/');
        if (name.StartsWith('/') || name.Contains(':', StringComparison.Ordinal) || name.Split('/').Any(part => part == ".."))
            return new BatchEntry(index, file.Name, "rejected", "The entry name points outside the archive (path traversal); it is not processed.");
        if (ArchiveExtensions.Contains(Path.GetExtension(name)))
            return new BatchEntry(index, file.Name, "rejected", "The entry is itself an archive; nested archives are not processed.");
        if (file.CompressedSize > 0 && (double)file.Size / file.CompressedSize > _options.MaxCompressionRatio)
            return new BatchEntry(index, file.Name, "rejected", $"The entry compresses {file.Size / (double)file.CompressedSize:F0} to 1, over the limit of {_options.MaxCompressionRatio:F0} (Batch:MaxCompressionRatio).");
        return new BatchEntry(index, file.Name, Zip: file);
    }

    private async Task<IReadOnlyList<BatchEntry>> IndexManifestAsync(SourceBlob batch, CancellationToken cancellationToken)
    {
        if (batch.Size > _options.MaxManifestBytes)
            throw new BatchRejectedException($"The manifest is {batch.Size:N0} bytes, over the limit of {_options.MaxManifestBytes:N0} (Batch:MaxManifestBytes).");
        var content = await Ranges(batch)(0, (int)batch.Size, cancellationToken);
        ManifestBody? parsed;
        try
        {
            parsed = JsonSerializer.Deserialize<ManifestBody>(content, RecordJson.Options);
        }
        catch (JsonException)
        {
            throw new BatchRejectedException("The manifest is not valid JSON: it should be {\"images\": [\"a.jpg\", \"folder/b.png\"]}.");
        }

        if (parsed?.Images is not { Count: > 0 } images)
            throw new BatchRejectedException("The manifest needs \"images\": a list of blob names in the images container.");
        if (images.Count > _options.MaxArchiveEntries)
            throw new BatchRejectedException($"The manifest lists {images.Count:N0} images, over the limit of {_options.MaxArchiveEntries:N0} (Batch:MaxArchiveEntries).");
        return images.Select((name, i) => string.IsNullOrWhiteSpace(name)
            ? new BatchEntry(i, name ?? string.Empty, "rejected", "The manifest entry is empty.")
            : name.Length > 1024 ? new BatchEntry(i, name[..1024], "rejected", "The manifest entry is longer than a blob name can be (1,024 characters).")
            : new BatchEntry(i, name)).ToList();
    }

    /// <summary>Ranged reads of the batch upload; a changed or deleted upload ends the job's reads.</summary>
    private ReadRange Ranges(SourceBlob batch)
    {
        var blob = storage.Batches.GetBlobClient(batch.Name);
        var conditions = new BlobRequestConditions { IfMatch = batch.AsETag() };
        return async (offset, length, ct) =>
        {
            if (length == 0)
                return [];
            try
            {
                return (await blob.DownloadContentAsync(new BlobDownloadOptions { Range = new HttpRange(offset, length), Conditions = conditions }, ct)).Value.Content.ToArray();
            }
            catch (RequestFailedException ex) when (ex.Status is 404 or 412)
            {
                throw new BatchSupersededException();
            }
        };
    }

    private sealed class ManifestBody
    {
        public List<string?>? Images { get; set; }
    }
}

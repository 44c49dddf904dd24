using System.IO.Compression;
using System.Text.Json;
using FunctionApp.Api;
using FunctionApp.Imaging;
using FunctionApp.Storage;

namespace FunctionApp.Batch;

/// <summary>One image of a batch: where it comes from, and why it cannot be read if it cannot.</summary>
public sealed record BatchEntry(int Index, string Name, string? Problem = null);

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

/// <summary>Where a batch's images come from: the entries of a zip archive, or blobs named by a JSON manifest.</summary>
public interface IBatchSource : IDisposable
{
    IReadOnlyList<BatchEntry> Entries { get; }

    /// <summary>The entry's bytes; throws <see cref="ImageInputException"/> when the entry breaks a limit.</summary>
    Task<byte[]> ReadAsync(BatchEntry entry, CancellationToken cancellationToken);
}

/// <summary>
/// A zip archive on local disk, checked before any entry is read: entry count, declared total size, path
/// traversal, nested archives and compression ratio. Reads are limited to the image byte limit whatever the
/// entry declares. Entries are read one at a time (the archive is shared), so memory stays bounded.
/// </summary>
public sealed class ZipBatchSource : IBatchSource
{
    private static readonly HashSet<string> ArchiveExtensions = new(StringComparer.OrdinalIgnoreCase) { ".zip", ".jar", ".tar", ".gz", ".tgz", ".7z", ".rar", ".bz2", ".xz" };
    private readonly FileStream _file;
    private readonly ZipArchive _archive;
    private readonly Dictionary<int, ZipArchiveEntry> _byIndex = [];
    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly long _maxEntryBytes;

    public ZipBatchSource(string path, BatchOptions options, long maxEntryBytes)
    {
        ArgumentNullException.ThrowIfNull(options);
        _maxEntryBytes = maxEntryBytes;
        _file = File.OpenRead(path);
        try
        {
            _archive = new ZipArchive(_file, ZipArchiveMode.Read, leaveOpen: false);
        }
        catch (InvalidDataException ex)
        {
            _file.Dispose();
            throw new BatchRejectedException($"The archive cannot be read: {ex.Message}");
        }

        var files = _archive.Entries.Where(e => !e.FullName.EndsWith('/')).ToList();
        if (files.Count > options.MaxArchiveEntries)
            throw new BatchRejectedException($"The archive holds {files.Count:N0} entries, over the limit of {options.MaxArchiveEntries:N0} (Batch:MaxArchiveEntries).");
        long declared = files.Sum(e => e.Length);
        if (declared > options.MaxArchiveUncompressedBytes)
            throw new BatchRejectedException($"The archive holds {declared:N0} bytes uncompressed, over the limit of {options.MaxArchiveUncompressedBytes:N0} (Batch:MaxArchiveUncompressedBytes).");

        var entries = new List<BatchEntry>(files.Count);
        for (int i = 0; i < files.Count; i++)
        {
            var entry = files[i];
            _byIndex[i] = entry;
            entries.Add(new BatchEntry(i, entry.FullName, Check(entry, options)));
        }

        Entries = entries;
    }

    public IReadOnlyList<BatchEntry> Entries { get; }

    public async Task<byte[]> ReadAsync(BatchEntry entry, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(entry);
        await _gate.WaitAsync(cancellationToken);
        try
        {
            var zipEntry = _byIndex[entry.Index];
            if (zipEntry.Length > _maxEntryBytes)
                throw new ImageInputException(ImageInputError.TooLarge, $"The entry is {zipEntry.Length:N0} bytes, over the limit of {_maxEntryBytes:N0} bytes (ImageLimits:MaxBytes).");
            await using var stream = zipEntry.Open();
            using var buffer = new MemoryStream((int)Math.Min(zipEntry.Length, _maxEntryBytes));
            var chunk = new byte[81920];
            int read;
            while ((read = await stream.ReadAsync(chunk, cancellationToken)) > 0)
            {
                if (buffer.Length + read > _maxEntryBytes)
                    throw new ImageInputException(ImageInputError.TooLarge, $"The entry inflates past the limit of {_maxEntryBytes:N0} bytes (ImageLimits:MaxBytes).");
                buffer.Write(chunk, 0, read);
            }

            var bytes = buffer.ToArray();
            if (bytes.AsSpan().StartsWith("PK\u0003\u0004"u8) || bytes.AsSpan().StartsWith((ReadOnlySpan<byte>)[0x1F, 0x8B]))
                throw new ImageInputException(ImageInputError.UnsupportedFormat, "The entry is itself an archive; nested archives are not processed.");
            return bytes;
        }
        catch (InvalidDataException ex)
        {
            throw new ImageInputException(ImageInputError.Undecodable, $"The entry cannot be extracted: {ex.Message}");
        }
        finally
        {
            _gate.Release();
        }
    }

    public void Dispose()
    {
        _archive.Dispose();
        _gate.Dispose();
    }

    private static string? Check(ZipArchiveEntry entry, BatchOptions options)
    {
        var name = entry.FullName.Replace('\\', '/');
        if (name.StartsWith('/') || name.Contains(':', StringComparison.Ordinal) || name.Split('/').Any(part => part == ".."))
            return "The entry name points outside the archive (path traversal); it is not processed.";
        if (ArchiveExtensions.Contains(Path.GetExtension(name)))
            return "The entry is itself an archive; nested archives are not processed.";
        if (entry.CompressedLength > 0 && (double)entry.Length / entry.CompressedLength > options.MaxCompressionRatio)
            return $"The entry compresses {entry.Length / (double)entry.CompressedLength:F0} to 1, over the limit of {options.MaxCompressionRatio:F0} (Batch:MaxCompressionRatio).";
        return null;
    }
}

/// <summary>A JSON manifest naming blobs in the images container: <c>{"images": ["a.jpg", "folder/b.png"]}</c>.</summary>
public sealed class ManifestBatchSource : IBatchSource
{
    private readonly BlobStorage _storage;
    private readonly long _maxBytes;

    public ManifestBatchSource(byte[] manifest, BlobStorage storage, BatchOptions options, long maxBytes)
    {
        ArgumentNullException.ThrowIfNull(options);
        _storage = storage;
        _maxBytes = maxBytes;
        BatchManifest? parsed;
        try
        {
            parsed = JsonSerializer.Deserialize<BatchManifest>(manifest, ApiJson.Options);
        }
        catch (JsonException ex)
        {
            throw new BatchRejectedException($"The manifest is not valid JSON: {ex.Message}");
        }

        if (parsed?.Images is not { Count: > 0 } images)
            throw new BatchRejectedException("The manifest needs \"images\": a list of blob names in the images container.");
        if (images.Count > options.MaxArchiveEntries)
            throw new BatchRejectedException($"The manifest lists {images.Count:N0} images, over the limit of {options.MaxArchiveEntries:N0} (Batch:MaxArchiveEntries).");
        Entries = images.Select((name, i) => new BatchEntry(i, name, string.IsNullOrWhiteSpace(name) ? "The manifest entry is empty." : null)).ToList();
    }

    public IReadOnlyList<BatchEntry> Entries { get; }

    public async Task<byte[]> ReadAsync(BatchEntry entry, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(entry);
        var blob = _storage.Images.GetBlobClient(entry.Name);
        try
        {
            var properties = await blob.GetPropertiesAsync(cancellationToken: cancellationToken);
            if (properties.Value.ContentLength > _maxBytes)
                throw new ImageInputException(ImageInputError.TooLarge, $"The blob is {properties.Value.ContentLength:N0} bytes, over the limit of {_maxBytes:N0} bytes (ImageLimits:MaxBytes).");
            return (await blob.DownloadContentAsync(cancellationToken)).Value.Content.ToArray();
        }
        catch (Azure.RequestFailedException ex) when (ex.Status == 404)
        {
            throw new ImageInputException(ImageInputError.Empty, $"The blob '{entry.Name}' does not exist in the images container.");
        }
    }

    public void Dispose()
    {
    }

    private sealed class BatchManifest
    {
        public List<string>? Images { get; set; }
    }
}

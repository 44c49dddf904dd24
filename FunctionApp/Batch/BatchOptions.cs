using System.ComponentModel.DataAnnotations;

namespace FunctionApp.Batch;

/// <summary>Batch jobs and archive safety (configuration section <c>Batch</c>).</summary>
public sealed class BatchOptions
{
    public const string SectionName = "Batch";

    /// <summary>Most images per chunk: one queue message, read, scored and written together by one instance.</summary>
    [Range(1, 1024)]
    public int ChunkSize { get; set; } = 32;

    /// <summary>
    /// Most bytes of encoded images a chunk holds in memory at once: a chunk whose images are larger is read and scored
    /// in several waves, so memory stays bounded whatever the entries' sizes.
    /// </summary>
    [Range(1024 * 1024, 4L * 1024 * 1024 * 1024)]
    public long MaxChunkBytes { get; set; } = 64L * 1024 * 1024;

    /// <summary>Most images read or downloaded at once within a chunk.</summary>
    [Range(1, 256)]
    public int MaxParallelReads { get; set; } = 8;

    /// <summary>Most entries an archive may hold.</summary>
    [Range(1, 1_000_000)]
    public int MaxArchiveEntries { get; set; } = 10_000;

    /// <summary>Most bytes an archive may hold once uncompressed (as its entries declare).</summary>
    [Range(1, long.MaxValue)]
    public long MaxArchiveUncompressedBytes { get; set; } = 2L * 1024 * 1024 * 1024;

    /// <summary>Highest uncompressed-to-compressed ratio of one entry; above it the entry is treated as a zip bomb.</summary>
    [Range(1, 100_000)]
    public double MaxCompressionRatio { get; set; } = 200;

    /// <summary>Largest manifest (<c>.json</c>) accepted, in bytes.</summary>
    [Range(1024, 256L * 1024 * 1024)]
    public long MaxManifestBytes { get; set; } = 16L * 1024 * 1024;

    /// <summary>Bytes of central directory allowed per entry the archive may hold (names and extra fields).</summary>
    public const int DirectoryBytesPerEntry = 1100;
}

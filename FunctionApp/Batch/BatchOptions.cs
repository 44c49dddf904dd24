using System.ComponentModel.DataAnnotations;

namespace FunctionApp.Batch;

/// <summary>Batch jobs and archive safety (configuration section <c>Batch</c>).</summary>
public sealed class BatchOptions
{
    public const string SectionName = "Batch";

    /// <summary>Images per chunk: decoded together, scored as one batch, written as one part, and the unit of resuming.</summary>
    [Range(1, 1024)]
    public int ChunkSize { get; set; } = 32;

    /// <summary>Most images read or downloaded at once within a chunk.</summary>
    [Range(1, 256)]
    public int MaxParallelReads { get; set; } = 8;

    /// <summary>Most entries an archive may hold.</summary>
    [Range(1, 1_000_000)]
    public int MaxArchiveEntries { get; set; } = 10_000;

    /// <summary>Most bytes an archive may hold once uncompressed (as its entries declare, and as read).</summary>
    [Range(1, long.MaxValue)]
    public long MaxArchiveUncompressedBytes { get; set; } = 2L * 1024 * 1024 * 1024;

    /// <summary>Highest uncompressed-to-compressed ratio of one entry; above it the entry is treated as a zip bomb.</summary>
    [Range(1, 100_000)]
    public double MaxCompressionRatio { get; set; } = 200;
}

using System.Buffers.Binary;
using System.IO.Compression;
using System.Text;
using FunctionApp.Imaging;

namespace FunctionApp.Batch;

/// <summary>Reads <paramref name="length"/> bytes of an archive from <paramref name="offset"/> (a ranged blob download).</summary>
public delegate Task<byte[]> ReadRange(long offset, int length, CancellationToken cancellationToken);

/// <summary>Where one file of a zip archive lives: enough to read it with two ranged reads, without the rest of the archive.</summary>
public sealed record ZipEntryLocation(string Name, long HeaderOffset, long CompressedSize, long Size, int Method, bool Encrypted);

/// <summary>
/// A zip archive read by range, as a blob in storage: the central directory from the end of the archive (zip64
/// included), then each entry's own bytes. No part of the archive is downloaded that is not needed, nothing is spooled
/// to disk, and the archive's declared sizes are checked before any entry is inflated.
/// </summary>
public static class ZipDirectory
{
    private const uint EndOfDirectorySignature = 0x06054b50;
    private const uint Zip64LocatorSignature = 0x07064b50;
    private const uint Zip64EndSignature = 0x06064b50;
    private const uint DirectoryEntrySignature = 0x02014b50;
    private const uint LocalHeaderSignature = 0x04034b50;
    private const int EndOfDirectorySize = 22;
    private const int MaxCommentLength = 65535;

    /// <summary>The files of the archive (directories left out), in the order the central directory lists them.</summary>
    /// <exception cref="BatchRejectedException">Not a zip archive, or its directory is larger than <paramref name="maxDirectoryBytes"/>.</exception>
    public static async Task<IReadOnlyList<ZipEntryLocation>> ReadAsync(ReadRange read, long archiveLength, long maxDirectoryBytes, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(read);
        if (archiveLength < EndOfDirectorySize)
            throw new BatchRejectedException("The archive is not a zip file: it is too short.");
        int tailLength = (int)Math.Min(archiveLength, EndOfDirectorySize + MaxCommentLength + 20);
        var tail = await read(archiveLength - tailLength, tailLength, cancellationToken);
        int end = FindEndOfDirectory(tail) ?? throw new BatchRejectedException("The archive is not a zip file: it has no central directory.");

        var record = tail.AsSpan(end);
        long count = BinaryPrimitives.ReadUInt16LittleEndian(record[10..]);
        long size = BinaryPrimitives.ReadUInt32LittleEndian(record[12..]);
        long offset = BinaryPrimitives.ReadUInt32LittleEndian(record[16..]);
        if ((count == ushort.MaxValue || size == uint.MaxValue || offset == uint.MaxValue) && end >= 20
            && BinaryPrimitives.ReadUInt32LittleEndian(tail.AsSpan(end - 20)) == Zip64LocatorSignature)
        {
            long zip64End = BinaryPrimitives.ReadInt64LittleEndian(tail.AsSpan(end - 20 + 8));
            if (zip64End < 0 || zip64End > archiveLength - 56)
                throw new BatchRejectedException("The archive's zip64 directory record points outside the archive.");
            var zip64 = await read(zip64End, 56, cancellationToken);
            if (BinaryPrimitives.ReadUInt32LittleEndian(zip64) != Zip64EndSignature)
                throw new BatchRejectedException("The archive's zip64 directory record is damaged.");
            count = BinaryPrimitives.ReadInt64LittleEndian(zip64.AsSpan(32));
            size = BinaryPrimitives.ReadInt64LittleEndian(zip64.AsSpan(40));
            offset = BinaryPrimitives.ReadInt64LittleEndian(zip64.AsSpan(48));
        }

        if (size < 0 || offset < 0 || offset > archiveLength || size > archiveLength - offset)
            throw new BatchRejectedException("The archive's central directory points outside the archive.");
        if (size > maxDirectoryBytes)
            throw new BatchRejectedException($"The archive's central directory is {size:N0} bytes, over the limit of {maxDirectoryBytes:N0} bytes for its entry count (Batch:MaxArchiveEntries).");
        var directory = size == 0 ? [] : await read(offset, (int)size, cancellationToken);
        return Parse(directory, count);
    }

    private static int? FindEndOfDirectory(byte[] tail)
    {
        for (int i = tail.Length - EndOfDirectorySize; i >= 0; i--)
        {
            if (BinaryPrimitives.ReadUInt32LittleEndian(tail.AsSpan(i)) == EndOfDirectorySignature
                && i + EndOfDirectorySize + BinaryPrimitives.ReadUInt16LittleEndian(tail.AsSpan(i + 20)) <= tail.Length)
                return i;
        }

        return null;
    }

    private static List<ZipEntryLocation> Parse(byte[] directory, long declaredCount)
    {
        var entries = new List<ZipEntryLocation>((int)Math.Min(declaredCount, 100_000));
        int at = 0;
        while (at + 46 <= directory.Length)
        {
            var header = directory.AsSpan(at);
            if (BinaryPrimitives.ReadUInt32LittleEndian(header) != DirectoryEntrySignature)
                throw new BatchRejectedException("The archive's central directory is damaged.");
            int flags = BinaryPrimitives.ReadUInt16LittleEndian(header[8..]);
            int method = BinaryPrimitives.ReadUInt16LittleEndian(header[10..]);
            long compressed = BinaryPrimitives.ReadUInt32LittleEndian(header[20..]);
            long size = BinaryPrimitives.ReadUInt32LittleEndian(header[24..]);
            int nameLength = BinaryPrimitives.ReadUInt16LittleEndian(header[28..]);
            int extraLength = BinaryPrimitives.ReadUInt16LittleEndian(header[30..]);
            int commentLength = BinaryPrimitives.ReadUInt16LittleEndian(header[32..]);
            long headerOffset = BinaryPrimitives.ReadUInt32LittleEndian(header[42..]);
            if (at + 46 + nameLength + extraLength + commentLength > directory.Length)
                throw new BatchRejectedException("The archive's central directory is damaged.");

            var name = Encoding.UTF8.GetString(header.Slice(46, nameLength));
            ReadZip64(header.Slice(46 + nameLength, extraLength), ref size, ref compressed, ref headerOffset);
            if (!name.EndsWith('/'))
                entries.Add(new ZipEntryLocation(name, headerOffset, compressed, size, method, (flags & 1) != 0));
            at += 46 + nameLength + extraLength + commentLength;
        }

        return entries;
    }

    /// <summary>The zip64 extra field holds, in order, whichever of the sizes and the offset overflowed 32 bits.</summary>
    private static void ReadZip64(ReadOnlySpan<byte> extra, ref long size, ref long compressed, ref long offset)
    {
        while (extra.Length >= 4)
        {
            int id = BinaryPrimitives.ReadUInt16LittleEndian(extra);
            int length = BinaryPrimitives.ReadUInt16LittleEndian(extra[2..]);
            if (4 + length > extra.Length)
                return;
            if (id == 1)
            {
                var data = extra.Slice(4, length);
                if (size == uint.MaxValue && data.Length >= 8)
                {
                    size = BinaryPrimitives.ReadInt64LittleEndian(data);
                    data = data[8..];
                }

                if (compressed == uint.MaxValue && data.Length >= 8)
                {
                    compressed = BinaryPrimitives.ReadInt64LittleEndian(data);
                    data = data[8..];
                }

                if (offset == uint.MaxValue && data.Length >= 8)
                    offset = BinaryPrimitives.ReadInt64LittleEndian(data);
                return;
            }

            extra = extra[(4 + length)..];
        }
    }

    /// <summary>One entry's bytes, inflated, never more than <paramref name="maxBytes"/> whatever the entry declares.</summary>
    /// <exception cref="ImageInputException">The entry is too large, damaged, encrypted or compressed in a way not supported.</exception>
    public static async Task<byte[]> ReadEntryAsync(ReadRange read, long archiveLength, ZipEntryLocation entry, long maxBytes, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(read);
        ArgumentNullException.ThrowIfNull(entry);
        if (entry.Encrypted)
            throw new ImageInputException(ImageInputError.UnsupportedFormat, "The entry is encrypted.");
        if (entry.Method is not (0 or 8))
            throw new ImageInputException(ImageInputError.UnsupportedFormat, $"The entry uses compression method {entry.Method}; only stored and deflated entries are read.");
        if (entry.Size > maxBytes)
            throw new ImageInputException(ImageInputError.TooLarge, $"The entry is {entry.Size:N0} bytes, over the limit of {maxBytes:N0} bytes (ImageLimits:MaxBytes).");
        if (entry.HeaderOffset < 0 || entry.HeaderOffset + 30 > archiveLength || entry.CompressedSize > archiveLength)
            throw new ImageInputException(ImageInputError.Undecodable, "The entry points outside the archive.");
        if (entry.CompressedSize > maxBytes + (64 * 1024))
            throw new ImageInputException(ImageInputError.TooLarge, $"The entry holds {entry.CompressedSize:N0} compressed bytes, more than an image within the limit of {maxBytes:N0} bytes can (ImageLimits:MaxBytes).");

        // One read for the local header and the data (local extra fields are usually as long as the directory's); a second if not.
        int guess = (int)Math.Min(archiveLength - entry.HeaderOffset, 30 + 1024 + 256 + entry.CompressedSize);
        var bytes = await read(entry.HeaderOffset, guess, cancellationToken);
        if (bytes.Length < 30 || BinaryPrimitives.ReadUInt32LittleEndian(bytes) != LocalHeaderSignature)
            throw new ImageInputException(ImageInputError.Undecodable, "The entry's header is damaged.");
        long dataStart = 30L + BinaryPrimitives.ReadUInt16LittleEndian(bytes.AsSpan(26)) + BinaryPrimitives.ReadUInt16LittleEndian(bytes.AsSpan(28));
        if (entry.HeaderOffset + dataStart + entry.CompressedSize > archiveLength)
            throw new ImageInputException(ImageInputError.Undecodable, "The entry's data runs past the end of the archive.");
        var data = dataStart + entry.CompressedSize <= bytes.Length
            ? bytes.AsMemory((int)dataStart, (int)entry.CompressedSize)
            : await read(entry.HeaderOffset + dataStart, (int)entry.CompressedSize, cancellationToken);

        if (entry.Method == 0)
            return data.ToArray();
        try
        {
            await using var inflate = new DeflateStream(new MemoryStream(data.ToArray(), writable: false), CompressionMode.Decompress);
            using var output = new MemoryStream((int)Math.Min(entry.Size, maxBytes));
            var buffer = new byte[81920];
            int n;
            while ((n = await inflate.ReadAsync(buffer, cancellationToken)) > 0)
            {
                if (output.Length + n > maxBytes)
                    throw new ImageInputException(ImageInputError.TooLarge, $"The entry inflates past the limit of {maxBytes:N0} bytes (ImageLimits:MaxBytes).");
                output.Write(buffer, 0, n);
            }

            return output.ToArray();
        }
        catch (InvalidDataException)
        {
            throw new ImageInputException(ImageInputError.Undecodable, "The entry's compressed data is damaged.");
        }
    }
}

using System.Buffers.Binary;
using System.IO.Compression;
using System.IO.Hashing;
using System.Text;

namespace FunctionApp.Tests.Support;

/// <summary>
/// Writes PNG files byte by byte, so a test chooses what an encoder would choose for it: the colour type, the bit
/// depth, each row's filter, the chunks before the image data, and Adam7 interlacing.
/// </summary>
public static class PngFiles
{
    public static readonly byte[] Signature = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A];

    /// <summary>Samples per pixel of each PNG colour type.</summary>
    public static int Channels(int colorType) => colorType switch { 0 => 1, 2 => 3, 3 => 1, 4 => 2, 6 => 4, _ => throw new ArgumentOutOfRangeException(nameof(colorType)) };

    /// <summary>
    /// A PNG of <paramref name="pixels"/> (rows of samples, big-endian when 16-bit, no filter bytes), each row filtered
    /// with <paramref name="filter"/>(row index), and <paramref name="chunks"/> written between IHDR and IDAT.
    /// </summary>
    public static byte[] Write(int width, int height, int bitDepth, int colorType, byte[] pixels, Func<int, int> filter, IEnumerable<(string Type, byte[] Data)>? chunks = null, bool interlaced = false)
    {
        int bpp = Math.Max(1, Channels(colorType) * bitDepth / 8);
        int rowBytes = ((width * Channels(colorType) * bitDepth) + 7) / 8;
        if (pixels.Length != rowBytes * height)
            throw new ArgumentException($"Expected {rowBytes * height} bytes of samples.", nameof(pixels));

        var raw = new MemoryStream();
        if (interlaced)
        {
            if (bitDepth < 8)
                throw new ArgumentException("Interlacing here needs whole-byte pixels.", nameof(bitDepth));
            int[][] passes = [[0, 0, 8, 8], [4, 0, 8, 8], [0, 4, 4, 8], [2, 0, 4, 4], [0, 2, 2, 4], [1, 0, 2, 2], [0, 1, 1, 2]];
            int row = 0;
            foreach (var p in passes)
            {
                int passWidth = (width - p[0] + p[2] - 1) / p[2];
                int passHeight = (height - p[1] + p[3] - 1) / p[3];
                if (passWidth <= 0 || passHeight <= 0)
                    continue;
                var previous = new byte[passWidth * bpp];
                for (int y = 0; y < passHeight; y++)
                {
                    var line = new byte[passWidth * bpp];
                    for (int x = 0; x < passWidth; x++)
                        Array.Copy(pixels, ((p[1] + (y * p[3])) * rowBytes) + ((p[0] + (x * p[2])) * bpp), line, x * bpp, bpp);
                    WriteFiltered(raw, filter(row++), line, previous, bpp);
                    previous = line;
                }
            }
        }
        else
        {
            var previous = new byte[rowBytes];
            for (int y = 0; y < height; y++)
            {
                var line = pixels.AsSpan(y * rowBytes, rowBytes).ToArray();
                WriteFiltered(raw, filter(y), line, previous, bpp);
                previous = line;
            }
        }

        var ihdr = new byte[13];
        BinaryPrimitives.WriteInt32BigEndian(ihdr, width);
        BinaryPrimitives.WriteInt32BigEndian(ihdr.AsSpan(4), height);
        ihdr[8] = (byte)bitDepth;
        ihdr[9] = (byte)colorType;
        ihdr[12] = (byte)(interlaced ? 1 : 0);
        return Assemble([("IHDR", ihdr), .. chunks ?? [], .. Split(Deflate(raw.ToArray()), 4096).Select(part => ("IDAT", part)), ("IEND", [])]);
    }

    /// <summary>A PNG made of exactly these chunks, each with its CRC.</summary>
    public static byte[] Assemble(IEnumerable<(string Type, byte[] Data)> chunks)
    {
        var file = new MemoryStream();
        file.Write(Signature);
        foreach (var (type, data) in chunks)
            file.Write(Chunk(type, data));
        return file.ToArray();
    }

    public static byte[] Chunk(string type, byte[] data)
    {
        var chunk = new byte[12 + data.Length];
        BinaryPrimitives.WriteInt32BigEndian(chunk, data.Length);
        Encoding.ASCII.GetBytes(type).CopyTo(chunk, 4);
        data.CopyTo(chunk, 8);
        BinaryPrimitives.WriteUInt32BigEndian(chunk.AsSpan(8 + data.Length), Crc32.HashToUInt32(chunk.AsSpan(4, 4 + data.Length)));
        return chunk;
    }

    public static byte[] Deflate(byte[] data)
    {
        var output = new MemoryStream();
        using (var zlib = new ZLibStream(output, CompressionLevel.Optimal, leaveOpen: true))
            zlib.Write(data);
        return output.ToArray();
    }

    /// <summary>Where each chunk of a PNG starts (its length field), by type, in file order.</summary>
    public static List<(string Type, int Offset, int Length)> Chunks(byte[] png)
    {
        var chunks = new List<(string, int, int)>();
        for (int at = 8; at + 8 <= png.Length;)
        {
            int length = BinaryPrimitives.ReadInt32BigEndian(png.AsSpan(at));
            chunks.Add((Encoding.ASCII.GetString(png, at + 4, 4), at, length));
            at += 12 + length;
        }

        return chunks;
    }

    /// <summary>Seeded random samples for an image of this layout.</summary>
    public static byte[] RandomSamples(int width, int height, int bitDepth, int colorType, int seed)
    {
        var samples = new byte[width * height * Channels(colorType) * bitDepth / 8];
        new Random(seed).NextBytes(samples);
        return samples;
    }

    private static IEnumerable<byte[]> Split(byte[] data, int size)
    {
        for (int at = 0; at < data.Length; at += size)
            yield return data[at..Math.Min(data.Length, at + size)];
    }

    private static void WriteFiltered(Stream raw, int filter, byte[] line, byte[] previous, int bpp)
    {
        raw.WriteByte((byte)filter);
        for (int i = 0; i < line.Length; i++)
        {
            int a = i >= bpp ? line[i - bpp] : 0, b = previous[i], c = i >= bpp ? previous[i - bpp] : 0;
            int predicted = filter switch
            {
                0 => 0,
                1 => a,
                2 => b,
                3 => (a + b) >> 1,
                4 => Paeth(a, b, c),
                _ => 0,
            };
            raw.WriteByte((byte)(line[i] - predicted));
        }
    }

    /// <summary>The PNG specification's predictor, written as it is there.</summary>
    private static int Paeth(int a, int b, int c)
    {
        int p = a + b - c;
        int pa = Math.Abs(p - a), pb = Math.Abs(p - b), pc = Math.Abs(p - c);
        if (pa <= pb && pa <= pc)
            return a;
        return pb <= pc ? b : c;
    }
}

using System.Buffers.Binary;

namespace FunctionApp.Imaging;

/// <summary>
/// The width and height an image declares in its first bytes, read by hand for each supported format, so a declared
/// size over the pixel limit is refused before any decoder is created, even when the rest of the file is missing.
/// </summary>
public static class ImageHeader
{
    /// <summary>The declared size, or null when the header is too short or not as the format says.</summary>
    public static (long Width, long Height)? DeclaredSize(ReadOnlySpan<byte> data, ImageFormat format) => format switch
    {
        ImageFormat.Png when data.Length >= 24 && data[12..16].SequenceEqual("IHDR"u8) =>
            (BinaryPrimitives.ReadUInt32BigEndian(data[16..]), BinaryPrimitives.ReadUInt32BigEndian(data[20..])),
        ImageFormat.Gif when data.Length >= 10 =>
            (BinaryPrimitives.ReadUInt16LittleEndian(data[6..]), BinaryPrimitives.ReadUInt16LittleEndian(data[8..])),
        ImageFormat.Bmp when data.Length >= 26 =>
            (Math.Abs((long)BinaryPrimitives.ReadInt32LittleEndian(data[18..])), Math.Abs((long)BinaryPrimitives.ReadInt32LittleEndian(data[22..]))),
        ImageFormat.Jpeg => JpegSize(data),
        ImageFormat.Webp => WebpSize(data),
        _ => null,
    };

    /// <summary>The first start-of-frame marker's size (every SOFn but DHT, JPG and DAC).</summary>
    private static (long, long)? JpegSize(ReadOnlySpan<byte> data)
    {
        int at = 2;
        while (at + 9 < data.Length)
        {
            if (data[at] != 0xFF)
                return null;
            byte marker = data[at + 1];
            if (marker == 0xFF)
            {
                at++;
                continue;
            }

            if (marker is 0xD8 or 0x01 or (>= 0xD0 and <= 0xD7))
            {
                at += 2;
                continue;
            }

            int length = BinaryPrimitives.ReadUInt16BigEndian(data[(at + 2)..]);
            if (marker is >= 0xC0 and <= 0xCF and not 0xC4 and not 0xC8 and not 0xCC)
                return (BinaryPrimitives.ReadUInt16BigEndian(data[(at + 7)..]), BinaryPrimitives.ReadUInt16BigEndian(data[(at + 5)..]));
            if (length < 2)
                return null;
            at += 2 + length;
        }

        return null;
    }

    private static (long, long)? WebpSize(ReadOnlySpan<byte> data)
    {
        if (data.Length < 30)
            return null;
        var chunk = data[12..16];
        if (chunk.SequenceEqual("VP8X"u8))
            return (1 + (data[24] | (data[25] << 8) | (data[26] << 16)), 1 + (data[27] | (data[28] << 8) | (data[29] << 16)));
        if (chunk.SequenceEqual("VP8 "u8))
            return (BinaryPrimitives.ReadUInt16LittleEndian(data[26..]) & 0x3FFF, BinaryPrimitives.ReadUInt16LittleEndian(data[28..]) & 0x3FFF);
        if (chunk.SequenceEqual("VP8L"u8) && data.Length >= 25)
        {
            uint bits = BinaryPrimitives.ReadUInt32LittleEndian(data[21..]);
            return (1 + (bits & 0x3FFF), 1 + ((bits >> 14) & 0x3FFF));
        }

        return null;
    }
}

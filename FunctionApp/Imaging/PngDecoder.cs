using System.Buffers;
using System.Buffers.Binary;
using System.IO.Compression;
using System.IO.Hashing;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using SkiaSharp;

namespace FunctionApp.Imaging;

/// <summary>
/// A decoder for the PNGs that photos and screenshots are: non-interlaced, 8 or 16 bits per sample, gray, RGB,
/// palette, gray+alpha or RGBA. It inflates the image data with the runtime's zlib (zlib-ng) about 32 KB of rows at a
/// time, unfilters each row against the one before, and writes premultiplied RGBA straight into the bitmap, pixel for
/// pixel what SkiaSharp's decoder gives for the same <see cref="SKImageInfo"/> (no colour space: gAMA, cHRM, sRGB and
/// iCCP change nothing there). Anything else, or anything unusual before the image data, is left to SkiaSharp
/// (<see cref="TryRead"/> answers null), so the answer for those stays SkiaSharp's own.
/// </summary>
public static class PngDecoder
{
    /// <summary>Rows longer than this (over half a million RGBA pixels at 16 bits) are left to SkiaSharp.</summary>
    public const int MaxRowBytes = 4 * 1024 * 1024;

    // Room past the last row for the vector loops' whole-register loads (and Paeth's 4-byte store).
    private const int Padding = 32;

    private const int BatchBytes = 32 * 1024;

    /// <summary>
    /// Reads the chunks up to and including the image data. Null when this decoder leaves the image to SkiaSharp:
    /// interlaced, another bit depth, an animation, a tRNS chunk that libpng would ignore or apply otherwise, any chunk
    /// it does not know that must be understood, or a layout it does not expect before the image data.
    /// </summary>
    /// <exception cref="ImageInputException">An image data chunk is damaged (its checksum does not match).</exception>
    public static PngImage? TryRead(ReadOnlySpan<byte> png)
    {
        if (png.Length < 33 || !png[..8].SequenceEqual((ReadOnlySpan<byte>)[0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]))
            return null;
        if (BinaryPrimitives.ReadUInt32BigEndian(png[8..]) != 13 || !png[12..16].SequenceEqual("IHDR"u8))
            return null;
        var ihdr = png.Slice(16, 13);
        uint width = BinaryPrimitives.ReadUInt32BigEndian(ihdr);
        uint height = BinaryPrimitives.ReadUInt32BigEndian(ihdr[4..]);
        int bitDepth = ihdr[8], colorType = ihdr[9];
        if (width is 0 or > int.MaxValue || height is 0 or > int.MaxValue || ihdr[10] != 0 || ihdr[11] != 0 || ihdr[12] != 0)
            return null;
        int channels = colorType switch { 0 => 1, 2 => 3, 3 => 1, 4 => 2, 6 => 4, _ => 0 };
        if (channels == 0 || bitDepth is not (8 or 16) || (colorType == 3 && bitDepth != 8))
            return null;
        int bytesPerPixel = channels * (bitDepth / 8);
        if ((long)width * bytesPerPixel > MaxRowBytes)
            return null;

        ReadOnlySpan<byte> palette = default, transparency = default;
        bool hasTransparency = false;
        var idat = new List<(int Offset, int Length)>();
        bool truncated = false;
        int at = 8 + 25;
        while (true)
        {
            if (at + 8 > png.Length)
            {
                // The file ends after the image data, before IEND: SkiaSharp decodes it too.
                if (idat.Count == 0)
                    return null;
                break;
            }

            long length = BinaryPrimitives.ReadUInt32BigEndian(png[at..]);
            var type = png.Slice(at + 4, 4);
            bool isIdat = type.SequenceEqual("IDAT"u8);
            if (idat.Count > 0 && !isIdat)
                break;
            if (length > int.MaxValue || at + 12 + length > png.Length)
            {
                // A chunk cut short: the image data decodes as far as it goes (SkiaSharp does the same); anything else is SkiaSharp's.
                if (!isIdat)
                    return null;
                idat.Add((at + 8, Math.Max(0, Math.Min((int)Math.Min(length, int.MaxValue), png.Length - at - 8))));
                truncated = true;
                break;
            }

            var data = png.Slice(at + 8, (int)length);
            if (isIdat)
            {
                if (Crc32.HashToUInt32(png.Slice(at + 4, 4 + (int)length)) != BinaryPrimitives.ReadUInt32BigEndian(png[(at + 8 + (int)length)..]))
                    throw Damaged();
                idat.Add((at + 8, (int)length));
            }
            else if (type.SequenceEqual("PLTE"u8))
            {
                if (!palette.IsEmpty || hasTransparency || length % 3 != 0 || length == 0 || length > 3 * 256)
                    return null;
                palette = data;
            }
            else if (type.SequenceEqual("tRNS"u8))
            {
                // libpng drops a damaged ancillary chunk: leave those (and every unusual tRNS) to SkiaSharp.
                if (hasTransparency || !ValidTransparency(colorType, bitDepth, data, palette.Length / 3)
                    || Crc32.HashToUInt32(png.Slice(at + 4, 4 + (int)length)) != BinaryPrimitives.ReadUInt32BigEndian(png[(at + 8 + (int)length)..]))
                {
                    return null;
                }

                transparency = data;
                hasTransparency = true;
            }
            else if (type.SequenceEqual("acTL"u8) || type.SequenceEqual("IEND"u8) || (type[0] & 0x20) == 0)
            {
                // An animation, no image data at all, or a critical chunk this decoder does not know.
                return null;
            }

            at += 12 + (int)length;
        }

        if (colorType == 3 && palette.IsEmpty)
            return null;
        return new PngImage((int)width, (int)height, bitDepth, colorType, bytesPerPixel, [.. idat], truncated,
            colorType == 3 ? PaletteTable(palette, transparency) : null,
            hasTransparency && colorType != 3 ? TransparentKey(colorType, transparency) : -1);
    }

    /// <summary>
    /// Whether inflating <paramref name="image"/>'s data aside (<see cref="Decode(SKData, PngImage, SKBitmap, bool)"/>)
    /// can pay for the thread it takes: at least 256 KB of rows, 8 batches.
    /// </summary>
    public static bool WorthInflatingAside(PngImage image) => (long)image.Height * (1 + ((long)image.Width * image.BytesPerPixel)) >= 8L * BatchBytes;

    /// <summary>Decodes <paramref name="image"/>, read from <paramref name="png"/>, into an RGBA premultiplied bitmap of its size.</summary>
    /// <exception cref="ImageInputException">The image data is damaged or ends before the last row.</exception>
    public static void Decode(SKData png, PngImage image, SKBitmap destination) => Decode(png, image, destination, inflateAside: false);

    /// <summary>
    /// <see cref="Decode(SKData, PngImage, SKBitmap)"/>; with <paramref name="inflateAside"/>, the image data is inflated
    /// on another thread while this one unfilters and converts the rows already inflated, so that the two halves of
    /// the work overlap on two cores. The pixels, and the errors, are the same either way.
    /// </summary>
    public static void Decode(SKData png, PngImage image, SKBitmap destination, bool inflateAside)
    {
        ArgumentNullException.ThrowIfNull(png);
        ArgumentNullException.ThrowIfNull(image);
        ArgumentNullException.ThrowIfNull(destination);
        if (destination.Width != image.Width || destination.Height != image.Height || destination.ColorType != SKColorType.Rgba8888 || destination.AlphaType != SKAlphaType.Premul)
            throw new ArgumentException("The bitmap must be RGBA premultiplied at the image's size.", nameof(destination));

        int rowBytes = image.Width * image.BytesPerPixel;
        int line = 1 + rowBytes;
        int outputStride = destination.RowBytes;
        var pixels = destination.GetPixelSpan();

        // Rows are inflated a batch at a time (about 32 KB, at least one row): zlib's fast loop runs over the whole
        // batch instead of stopping at every row's end. Slot 0 holds the last row of the batch before (zeros above
        // the first row); each slot is a filter byte and a row.
        int batch = Math.Clamp(BatchBytes / line, 1, image.Height);
        var rented = ArrayPool<byte>.Shared.Rent(((batch + 1) * line) + Padding);
        using var aside = inflateAside && image.Height > batch ? InflateAside.TryStart(() => new ImageDataStream(png, image.Idat), batch * line, image.Height * line, image.Truncated) : null;
        try
        {
            var buffer = rented.AsSpan(0, ((batch + 1) * line) + Padding);
            buffer.Clear();
            using var zlib = aside is null ? new ZLibStream(new ImageDataStream(png, image.Idat), CompressionMode.Decompress) : null;
            for (int y = 0; y < image.Height;)
            {
                int rows = Math.Min(batch, image.Height - y);
                var inflated = buffer.Slice(line, rows * line);
                if (!(zlib is not null ? zlib.ReadAtLeast(inflated, inflated.Length, throwOnEndOfStream: false) == inflated.Length : aside!.Next(inflated)))
                    throw Damaged();
                for (int i = 1; i <= rows; i++, y++)
                {
                    var row = buffer[((i * line) + 1)..];
                    var above = buffer[(((i - 1) * line) + 1)..];
                    if (i < rows && buffer[i * line] == 4 && buffer[(i + 1) * line] == 4 && image.BytesPerPixel is 3 or 4 && Vector128.IsHardwareAccelerated)
                    {
                        // Two Paeth rows (most rows of a photo): their 4-byte stores run one byte past each row.
                        var second = buffer[(((i + 1) * line) + 1)..];
                        byte secondFilter = row[rowBytes], after = second[rowBytes];
                        PaethVectorPair(row, above, second, image.BytesPerPixel, rowBytes);
                        row[rowBytes] = secondFilter;
                        second[rowBytes] = after;
                        Convert(image, row, pixels.Slice(y * outputStride, image.Width * 4));
                        i++;
                        y++;
                        Convert(image, second, pixels.Slice(y * outputStride, image.Width * 4));
                        continue;
                    }

                    Unfilter(buffer[i * line], row, above, rowBytes, image.BytesPerPixel);
                    Convert(image, row, pixels.Slice(y * outputStride, image.Width * 4));
                }

                buffer.Slice(rows * line, line).CopyTo(buffer);
            }

            // Reaching the end of the zlib stream checks its Adler-32. Data past the last row is ignored, as SkiaSharp
            // does; so is a stream cut short after it, when the file itself is cut short.
            if (aside is not null)
                aside.Finish();
            else if (!image.Truncated)
                zlib!.ReadAtLeast(buffer[..1], 1, throwOnEndOfStream: false);
        }
        catch (InvalidDataException)
        {
            throw Damaged();
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(rented);
        }
    }

    private static ImageInputException Damaged() =>
        new(ImageInputError.Undecodable, $"The {ImageFormatSniffer.MediaType(ImageFormat.Png)} data cannot be decoded (the data is truncated or damaged).");

    private static bool ValidTransparency(int colorType, int bitDepth, ReadOnlySpan<byte> data, int paletteEntries) => colorType switch
    {
        // Keys over 255 in an 8-bit image, and keys of 16-bit images, are left to SkiaSharp.
        0 => bitDepth == 8 && data.Length == 2 && data[0] == 0,
        2 => bitDepth == 8 && data.Length == 6 && data[0] == 0 && data[2] == 0 && data[4] == 0,
        3 => paletteEntries > 0 && data.Length > 0 && data.Length <= paletteEntries,
        _ => false,
    };

    /// <summary>The colour-key as R | G &lt;&lt; 8 | B &lt;&lt; 16 (gray: the gray value in all three).</summary>
    private static int TransparentKey(int colorType, ReadOnlySpan<byte> trns) => colorType == 0
        ? trns[1] * 0x010101
        : trns[1] | (trns[3] << 8) | (trns[5] << 16);

    /// <summary>256 premultiplied RGBA entries; indices past the palette take its last colour, as SkiaSharp does.</summary>
    private static uint[] PaletteTable(ReadOnlySpan<byte> palette, ReadOnlySpan<byte> trns)
    {
        var table = new uint[256];
        int entries = palette.Length / 3;
        for (int i = 0; i < 256; i++)
        {
            int e = Math.Min(i, entries - 1);
            int alpha = e < trns.Length ? trns[e] : 255;
            table[i] = Pack(Premultiply(palette[e * 3], alpha), Premultiply(palette[(e * 3) + 1], alpha), Premultiply(palette[(e * 3) + 2], alpha), alpha);
        }

        return table;
    }

    /// <summary>c x a / 255, rounded: SkiaSharp's premultiplication, to the bit.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int Premultiply(int c, int a)
    {
        int p = (c * a) + 128;
        return (p + (p >> 8)) >> 8;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static uint Pack(int r, int g, int b, int a) => (uint)(r | (g << 8) | (b << 16) | (a << 24));

    /// <summary>
    /// Undoes the filter of the <paramref name="length"/> bytes at the start of <paramref name="row"/>, in place.
    /// <paramref name="row"/> and <paramref name="above"/> run on past the row (into the next row or the padding).
    /// </summary>
    internal static void Unfilter(byte filter, Span<byte> row, ReadOnlySpan<byte> above, int length, int bpp)
    {
        switch (filter)
        {
            case 0:
                break;
            case 1:
                for (int i = bpp; i < length; i++)
                    row[i] += row[i - bpp];
                break;
            case 2:
                int v = 0;
                if (Vector128.IsHardwareAccelerated)
                {
                    for (; v + Vector128<byte>.Count <= length; v += Vector128<byte>.Count)
                        (Vector128.Create(row[v..]) + Vector128.Create(above[v..])).CopyTo(row[v..]);
                }

                for (; v < length; v++)
                    row[v] += above[v];
                break;
            case 3:
                for (int i = 0; i < bpp; i++)
                    row[i] += (byte)(above[i] >> 1);
                for (int i = bpp; i < length; i++)
                    row[i] += (byte)((row[i - bpp] + above[i]) >> 1);
                break;
            case 4:
                if (bpp is 3 or 4 && Vector128.IsHardwareAccelerated)
                {
                    // Its last 4-byte store runs one byte past a 3-byte pixel row: into the next row's filter byte.
                    byte next = row[length];
                    PaethVector(row, above, bpp, length);
                    row[length] = next;
                }
                else
                    PaethScalar(row, above, bpp, length);
                break;
            default:
                throw Damaged();
        }
    }

    private static void PaethScalar(Span<byte> row, ReadOnlySpan<byte> above, int bpp, int length)
    {
        for (int i = 0; i < bpp; i++)
            row[i] += above[i];
        for (int i = bpp; i < length; i++)
            row[i] += (byte)PaethPredictor(row[i - bpp], above[i], above[i - bpp]);
    }

    /// <summary>
    /// The Paeth predictor as stb_image writes it: equal to the specification's (nearest of a, b, c to a + b - c, ties
    /// to a, then b) with a shorter chain of dependent steps and no branches.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int PaethPredictor(int a, int b, int c)
    {
        int threshold = (c * 3) - (a + b);
        int lo = Math.Min(a, b), hi = Math.Max(a, b);
        int t0 = hi <= threshold ? lo : c;
        return threshold <= lo ? hi : t0;
    }

    /// <summary>
    /// Paeth (as <see cref="PaethPredictor"/>) for 3- and 4-byte pixels, one pixel per step in 16-bit lanes (each pixel
    /// needs the one before it, so the lanes are its channels). Loads and stores 4 bytes per pixel: the byte after the
    /// row takes the extra byte of the last.
    /// </summary>
    private static void PaethVector(Span<byte> row, ReadOnlySpan<byte> above, int bpp, int length)
    {
        ref byte r = ref MemoryMarshal.GetReference(row);
        ref byte u = ref MemoryMarshal.GetReference(above);
        var a = Vector128<short>.Zero;
        var c = Vector128<short>.Zero;
        var x = Load4(ref r);
        for (int i = 0; i < length; i += bpp)
        {
            var b = Load4(ref Unsafe.Add(ref u, i));
            a = (Predict(a, b, c) + x) & Vector128.Create((short)0xFF);

            // The next pixel's filtered bytes before this store overwrites the first of them (3-byte pixels).
            x = Load4(ref Unsafe.Add(ref r, i + bpp));
            Store4(ref Unsafe.Add(ref r, i), a);
            c = b;
        }
    }

    /// <summary>
    /// Two Paeth rows in one pass, the second one pixel behind the first (its pixel above is the one the first row has
    /// just finished): one pixel's steps depend on each other, the two rows' do not, so the processor runs both at once.
    /// </summary>
    private static void PaethVectorPair(Span<byte> first, ReadOnlySpan<byte> above, Span<byte> second, int bpp, int length)
    {
        ref byte r0 = ref MemoryMarshal.GetReference(first);
        ref byte r1 = ref MemoryMarshal.GetReference(second);
        ref byte u = ref MemoryMarshal.GetReference(above);
        var mask = Vector128.Create((short)0xFF);
        var c0 = Vector128<short>.Zero;
        var x0 = Load4(ref r0);

        // The first row's first pixel alone.
        var b0 = Load4(ref u);
        var a0 = (Predict(Vector128<short>.Zero, b0, c0) + x0) & mask;
        x0 = Load4(ref Unsafe.Add(ref r0, bpp));
        Store4(ref r0, a0);
        c0 = b0;
        var a1 = Vector128<short>.Zero;
        var c1 = Vector128<short>.Zero;
        var x1 = Load4(ref r1);
        for (int i = bpp; i < length; i += bpp)
        {
            // First row, this pixel.
            b0 = Load4(ref Unsafe.Add(ref u, i));
            var next0 = (Predict(a0, b0, c0) + x0) & mask;
            x0 = Load4(ref Unsafe.Add(ref r0, i + bpp));
            Store4(ref Unsafe.Add(ref r0, i), next0);
            c0 = b0;

            // Second row, the pixel before: above it is a0, above-left c1.
            a1 = (Predict(a1, a0, c1) + x1) & mask;
            x1 = Load4(ref Unsafe.Add(ref r1, i));
            Store4(ref Unsafe.Add(ref r1, i - bpp), a1);
            c1 = a0;
            a0 = next0;
        }

        // The second row's last pixel.
        a1 = (Predict(a1, a0, c1) + x1) & mask;
        Store4(ref Unsafe.Add(ref r1, length - bpp), a1);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<short> Predict(Vector128<short> a, Vector128<short> b, Vector128<short> c)
    {
        var threshold = (c * 3) - b - a;
        var lo = Vector128.Min(a, b);
        var hi = Vector128.Max(a, b);
        var t0 = Vector128.ConditionalSelect(Vector128.GreaterThan(hi, threshold), c, lo);
        return Vector128.ConditionalSelect(Vector128.GreaterThan(threshold, lo), t0, hi);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<short> Load4(ref byte source) =>
        Vector128.WidenLower(Vector128.CreateScalar(Unsafe.ReadUnaligned<uint>(ref source)).AsByte()).AsInt16();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store4(ref byte destination, Vector128<short> pixel) =>
        Unsafe.WriteUnaligned(ref destination, Vector128.Narrow(pixel.AsUInt16(), pixel.AsUInt16()).AsUInt32().ToScalar());

    /// <summary>One unfiltered row to premultiplied RGBA.</summary>
    private static void Convert(PngImage image, ReadOnlySpan<byte> row, Span<byte> rgba)
    {
        int width = image.Width;
        var output = MemoryMarshal.Cast<byte, uint>(rgba);
        int step = image.BitDepth / 8;
        switch (image.ColorType)
        {
            case 2 when step == 1 && image.TransparentKey < 0:
                RgbToRgba(row, rgba, width);
                break;
            case 6 when step == 1:
                RgbaToPremultiplied(row, rgba, width);
                break;
            case 3:
                var table = image.Palette!;
                for (int x = 0; x < width; x++)
                    output[x] = table[row[x]];
                break;
            case 0:
                for (int x = 0; x < width; x++)
                {
                    int g = row[x * step];
                    output[x] = g * 0x010101 == image.TransparentKey ? 0 : Pack(g, g, g, 255);
                }

                break;
            case 2:
                for (int x = 0; x < width; x++)
                {
                    int p = x * 3 * step;
                    int r = row[p], g = row[p + step], b = row[p + (2 * step)];
                    output[x] = (r | (g << 8) | (b << 16)) == image.TransparentKey ? 0 : Pack(r, g, b, 255);
                }

                break;
            case 4:
                for (int x = 0; x < width; x++)
                {
                    int g = row[x * 2 * step], alpha = row[(x * 2 * step) + step];
                    int premultiplied = Premultiply(g, alpha);
                    output[x] = Pack(premultiplied, premultiplied, premultiplied, alpha);
                }

                break;
            default:
                for (int x = 0; x < width; x++)
                {
                    int p = x * 4 * step;
                    int alpha = row[p + (3 * step)];
                    output[x] = Pack(Premultiply(row[p], alpha), Premultiply(row[p + step], alpha), Premultiply(row[p + (2 * step)], alpha), alpha);
                }

                break;
        }
    }

    /// <summary>RGB to opaque RGBA, four pixels per shuffle (the row's padding covers the last load).</summary>
    private static void RgbToRgba(ReadOnlySpan<byte> row, Span<byte> rgba, int width)
    {
        int x = 0;
        if (Vector128.IsHardwareAccelerated)
        {
            var spread = Vector128.Create((byte)0, 1, 2, 0xFF, 3, 4, 5, 0xFF, 6, 7, 8, 0xFF, 9, 10, 11, 0xFF);
            var opaque = Vector128.Create(0xFF000000u).AsByte();
            for (; x + 4 <= width; x += 4)
                (Vector128.Shuffle(Vector128.Create(row[(x * 3)..]), spread) | opaque).CopyTo(rgba[(x * 4)..]);
        }

        var output = MemoryMarshal.Cast<byte, uint>(rgba);
        for (; x < width; x++)
            output[x] = Pack(row[x * 3], row[(x * 3) + 1], row[(x * 3) + 2], 255);
    }

    private static void RgbaToPremultiplied(ReadOnlySpan<byte> row, Span<byte> rgba, int width)
    {
        var input = MemoryMarshal.Cast<byte, uint>(row[..(width * 4)]);
        var output = MemoryMarshal.Cast<byte, uint>(rgba);
        for (int x = 0; x < width; x++)
        {
            uint p = input[x];
            int alpha = (int)(p >> 24);
            output[x] = alpha == 255 ? p : Pack(Premultiply((int)(p & 0xFF), alpha), Premultiply((int)((p >> 8) & 0xFF), alpha), Premultiply((int)((p >> 16) & 0xFF), alpha), alpha);
        }
    }

    /// <summary>The payloads of the image data chunks, one after another, as the zlib stream they make up.</summary>
    private sealed class ImageDataStream(SKData png, (int Offset, int Length)[] chunks) : Stream
    {
        private int _chunk;
        private int _inChunk;

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override int Read(Span<byte> buffer)
        {
            var data = png.AsSpan();
            int written = 0;
            while (written < buffer.Length && _chunk < chunks.Length)
            {
                var (offset, length) = chunks[_chunk];
                int take = Math.Min(buffer.Length - written, length - _inChunk);
                data.Slice(offset + _inChunk, take).CopyTo(buffer[written..]);
                written += take;
                _inChunk += take;
                if (_inChunk == length)
                {
                    _chunk++;
                    _inChunk = 0;
                }
            }

            return written;
        }

        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}

/// <summary>What <see cref="PngDecoder.TryRead"/> found before the image data: enough to decode it.</summary>
public sealed class PngImage
{
    internal PngImage(int width, int height, int bitDepth, int colorType, int bytesPerPixel, (int Offset, int Length)[] idat, bool truncated, uint[]? palette, int transparentKey)
    {
        Width = width;
        Height = height;
        BitDepth = bitDepth;
        ColorType = colorType;
        BytesPerPixel = bytesPerPixel;
        Idat = idat;
        Truncated = truncated;
        Palette = palette;
        TransparentKey = transparentKey;
    }

    public int Width { get; }

    public int Height { get; }

    public int BitDepth { get; }

    /// <summary>PNG's colour type: 0 gray, 2 RGB, 3 palette, 4 gray+alpha, 6 RGBA.</summary>
    public int ColorType { get; }

    internal int BytesPerPixel { get; }

    internal (int Offset, int Length)[] Idat { get; }

    /// <summary>The file ends inside the image data (it decodes if the rows are all there).</summary>
    internal bool Truncated { get; }

    internal uint[]? Palette { get; }

    /// <summary>The tRNS colour key of a gray or RGB image (R | G &lt;&lt; 8 | B &lt;&lt; 16), or -1.</summary>
    internal int TransparentKey { get; }
}

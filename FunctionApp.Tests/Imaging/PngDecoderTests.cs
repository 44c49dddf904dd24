using System.Buffers.Binary;
using FunctionApp.Imaging;
using FunctionApp.Tests.Support;
using Microsoft.Extensions.Options;
using SkiaSharp;

namespace FunctionApp.Tests.Imaging;

/// <summary>
/// <see cref="PngDecoder"/> against SkiaSharp's own PNG decoder, with the image info the app decodes to (RGBA,
/// premultiplied, no colour space): the same pixels to the bit, the same error for damaged data, and every PNG it
/// does not take still decoded by SkiaSharp.
/// </summary>
public class PngDecoderTests
{
    private static readonly byte[] Exif6 =
    [
        (byte)'M', (byte)'M', 0x00, 0x2A, 0x00, 0x00, 0x00, 0x08, 0x00, 0x01,
        0x01, 0x12, 0x00, 0x03, 0x00, 0x00, 0x00, 0x01, 0x00, 0x06, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    ];

    public static TheoryData<int, int, int, int, int, bool> Layouts()
    {
        var data = new TheoryData<int, int, int, int, int, bool>();
        (int ColorType, int BitDepth, bool Transparency)[] kinds =
        [
            (0, 8, false), (0, 8, true), (0, 16, false), (2, 8, false), (2, 8, true), (2, 16, false),
            (3, 8, false), (3, 8, true), (4, 8, false), (4, 16, false), (6, 8, false), (6, 16, false),
        ];
        foreach (var (colorType, bitDepth, transparency) in kinds)
        {
            // Filters 0-4 on every row, then all five mixed (-1).
            foreach (int filter in new[] { 0, 1, 2, 3, 4, -1 })
            {
                foreach (var (width, height) in new[] { (1, 1), (7, 3), (33, 9) })
                    data.Add(colorType, bitDepth, filter, width, height, transparency);
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Layouts))]
    public void Decode_EachColorTypeDepthAndFilter_EqualsSkia(int colorType, int bitDepth, int filter, int width, int height, bool transparency)
    {
        var samples = PngFiles.RandomSamples(width, height, bitDepth, colorType, seed: (colorType * 1000) + (filter * 100) + width);
        var chunks = new List<(string, byte[])>();
        if (colorType == 3)
        {
            // 200 colours: random indices past them take the last colour.
            var palette = new byte[200 * 3];
            new Random(5).NextBytes(palette);
            chunks.Add(("PLTE", palette));
            if (transparency)
                chunks.Add(("tRNS", [.. Enumerable.Range(0, 120).Select(i => (byte)(i * 2))]));
        }
        else if (transparency)
        {
            // The colour key is the first pixel's colour, which also appears elsewhere.
            if (samples.Length > 2 * PngFiles.Channels(colorType))
                samples.AsSpan(0, PngFiles.Channels(colorType)).CopyTo(samples.AsSpan(samples.Length - PngFiles.Channels(colorType)));
            chunks.Add(("tRNS", colorType == 0 ? [0, samples[0]] : [0, samples[0], 0, samples[1], 0, samples[2]]));
        }

        var png = PngFiles.Write(width, height, bitDepth, colorType, samples, y => filter >= 0 ? filter : y % 5, chunks);

        var managed = ManagedDecode(png, out var image);

        Assert.Equal((colorType, bitDepth), (image.ColorType, image.BitDepth));
        Assert.Equal(SkiaDecode(png), managed);
        if (transparency && colorType != 3 && samples.Length > 2 * PngFiles.Channels(colorType))
            Assert.Equal(0u, BitConverter.ToUInt32(managed, 0));
    }

    [Theory]
    [InlineData(SKAlphaType.Premul, 6)]
    [InlineData(SKAlphaType.Opaque, 2)]
    public void Decode_SkiaEncodedPhotoLikeImage_EqualsSkia(SKAlphaType alphaType, int colorType)
    {
        var png = PhotoLike(301, 211, alphaType);

        var managed = ManagedDecode(png, out var image);

        Assert.Equal(colorType, image.ColorType);
        Assert.Equal(SkiaDecode(png), managed);
    }

    [Fact]
    public void Decode_GrayscaleFromSkia_EqualsSkia()
    {
        var png = Images.Draw(45, 30, c =>
        {
            using var paint = new SKPaint { Shader = SKShader.CreateLinearGradient(new SKPoint(0, 0), new SKPoint(45, 30), [SKColors.Black, SKColors.White], SKShaderTileMode.Clamp) };
            c.DrawRect(0, 0, 45, 30, paint);
        }, colorType: SKColorType.Gray8, alphaType: SKAlphaType.Opaque);

        var managed = ManagedDecode(png, out var image);

        Assert.Equal(0, image.ColorType);
        Assert.Equal(SkiaDecode(png), managed);
    }

    [Fact]
    public void Decode_ColourProfileChunks_ChangeNothingAsInSkia()
    {
        // The app decodes with no colour space, so neither decoder converts: both give the stored samples.
        var samples = PngFiles.RandomSamples(40, 20, 8, 2, seed: 11);
        var gamma = new byte[4];
        BinaryPrimitives.WriteInt32BigEndian(gamma, 100_000);
        var chromaticities = new byte[32];
        int[] points = [31270, 32900, 64000, 33000, 30000, 60000, 15000, 6000];
        for (int i = 0; i < points.Length; i++)
            BinaryPrimitives.WriteInt32BigEndian(chromaticities.AsSpan(i * 4), points[i]);
        using var p3 = SKColorSpace.CreateRgb(SKColorSpaceTransferFn.Rec2020, SKColorSpaceXyz.Rec2020);
        var withProfile = Images.Draw(40, 20, c => c.Clear(new SKColor(200, 30, 90)), colorType: SKColorType.Rgba8888, alphaType: SKAlphaType.Premul, colorSpace: p3);
        Assert.Contains(PngFiles.Chunks(withProfile), c => c.Type == "iCCP");

        foreach (var png in new[]
        {
            PngFiles.Write(40, 20, 8, 2, samples, y => 4, [("gAMA", gamma), ("cHRM", chromaticities)]),
            PngFiles.Write(40, 20, 8, 2, samples, y => 4, [("sRGB", [0]), ("gAMA", gamma)]),
        })
        {
            var managed = ManagedDecode(png, out _);
            Assert.Equal(SkiaDecode(png), managed);
            Assert.Equal(samples[..3], managed[..3]);
        }

        Assert.Equal(SkiaDecode(withProfile), ManagedDecode(withProfile, out _));
    }

    [Fact]
    public void Decode_ThroughImageDecoder_EqualsTheSkiaPath()
    {
        var png = PhotoLike(222, 333, SKAlphaType.Premul);
        using var managed = Decoder().Open(png);
        using var skia = Decoder(managedPng: false).Open(png);

        using var fast = managed.Decode(224, 224);
        using var reference = skia.Decode(224, 224);

        Assert.Equal((222, 333), (fast.Width, fast.Height));
        Assert.Equal(reference.GetPixelSpan().ToArray(), fast.GetPixelSpan().ToArray());
    }

    [Fact]
    public void Decode_ExifChunk_IsIgnoredAsSkiaIgnoresIt()
    {
        var samples = PngFiles.RandomSamples(40, 20, 8, 2, seed: 3);
        var png = PngFiles.Write(40, 20, 8, 2, samples, y => 1, [("eXIf", Exif6)]);
        using var image = Decoder().Open(png);

        using var decoded = image.Decode(40, 20);

        Assert.Equal(SKEncodedOrigin.TopLeft, image.Origin);
        Assert.Equal((40, 20), (decoded.Width, decoded.Height));
        Assert.Equal(SkiaDecode(png), decoded.GetPixelSpan().ToArray());
    }

    public static TheoryData<string> Damages() => ["idat-crc", "zlib-data", "adler", "short-stream", "bad-filter", "cut-in-idat", "idat-length"];

    [Theory]
    [MemberData(nameof(Damages))]
    public void Decode_DamagedImageData_IsUndecodableAsInSkia(string damage)
    {
        var png = Damaged(damage);
        Assert.True(TakenByManagedDecoder(png), "the managed decoder takes this PNG");

        var managed = Assert.Throws<ImageInputException>(() => OpenAndDecode(png, managedPng: true));
        var skia = Assert.Throws<ImageInputException>(() => OpenAndDecode(png, managedPng: false));

        Assert.Equal(ImageInputError.Undecodable, managed.Error);
        Assert.Equal(skia.Error, managed.Error);
        Assert.Equal("The image/png data cannot be decoded (the data is truncated or damaged).", managed.Message);
    }

    [Fact]
    public void Decode_CutAtAnyPointOfTheImageData_AgreesWithSkia()
    {
        var png = PngFiles.Write(50, 40, 8, 6, PngFiles.RandomSamples(50, 40, 8, 6, seed: 9), y => y % 5);
        var idat = PngFiles.Chunks(png).Where(c => c.Type == "IDAT").ToList();
        int from = idat[0].Offset, to = png.Length;
        int decodedBoth = 0;
        // Every byte around the start and the end of the image data (chunk headers, checksums, IEND), every 97th between.
        var cuts = Enumerable.Range(from, 64).Concat(Enumerable.Range(from, to - from).Where(i => (i - from) % 97 == 0)).Concat(Enumerable.Range(to - 64, 65)).Distinct();
        foreach (int cut in cuts)
        {
            var truncated = png[..cut];
            var skia = Outcome(truncated, managedPng: false);
            var managed = Outcome(truncated, managedPng: true);
            Assert.True(skia.Error == managed.Error, $"cut at {cut}: SkiaSharp {skia.Error?.ToString() ?? "decodes"}, managed {managed.Error?.ToString() ?? "decodes"}");
            if (skia.Pixels is not null)
            {
                Assert.Equal(skia.Pixels, managed.Pixels);
                decodedBoth++;
            }
        }

        Assert.True(decodedBoth > 0, "cuts after the image data still decode");
    }

    [Theory]
    [InlineData(2, 8)]
    [InlineData(6, 8)]
    [InlineData(6, 16)]
    [InlineData(0, 16)]
    [InlineData(3, 8)]
    public void Decode_InflatedAside_EqualsSkia(int colorType, int bitDepth)
    {
        // Random samples hardly compress: hundreds of KB of rows, many times the ring of batches the inflating thread fills.
        var samples = PngFiles.RandomSamples(700, 400, bitDepth, colorType, seed: colorType + bitDepth);
        var chunks = colorType == 3 ? new List<(string, byte[])> { ("PLTE", [.. Enumerable.Range(0, 768).Select(i => (byte)(i * 7))]) } : null;
        var png = PngFiles.Write(700, 400, bitDepth, colorType, samples, y => y % 5, chunks);
        Assert.True(PngDecoder.WorthInflatingAside(PngDecoder.TryRead(png)!));

        var aside = ManagedDecode(png, out _, inflateAside: true);

        Assert.Equal(SkiaDecode(png), aside);
        Assert.Equal(ManagedDecode(png, out _), aside);
    }

    [Theory]
    [MemberData(nameof(Damages))]
    public void Decode_DamagedImageDataInflatedAside_FailsAsWithoutIt(string damage)
    {
        // Large enough that the damage lies batches into the stream (and the bad filter a third of the way down).
        var png = Damaged(damage, 420, 310);

        var aside = ManagedOutcome(png, inflateAside: true);
        var inline = ManagedOutcome(png, inflateAside: false);

        Assert.Equal(ImageInputError.Undecodable, inline.Error);
        Assert.Equal(inline, aside);
    }

    [Fact]
    public void Decode_CutAtAnyPointOfTheImageDataInflatedAside_AgreesWithoutIt()
    {
        var png = PngFiles.Write(300, 200, 8, 6, PngFiles.RandomSamples(300, 200, 8, 6, seed: 11), y => y % 5);
        int from = PngFiles.Chunks(png).First(c => c.Type == "IDAT").Offset, to = png.Length;
        int decoded = 0;
        var cuts = Enumerable.Range(from, to - from).Where(i => (i - from) % 4999 == 0).Concat(Enumerable.Range(to - 40, 41));
        foreach (int cut in cuts)
        {
            var truncated = png[..cut];
            if (PngDecoder.TryRead(truncated) is null)
                continue;
            var aside = ManagedOutcome(truncated, inflateAside: true);
            var inline = ManagedOutcome(truncated, inflateAside: false);
            Assert.True(aside.Error == inline.Error, $"cut at {cut}: inflated aside {aside.Error?.ToString() ?? "decodes"}, inline {inline.Error?.ToString() ?? "decodes"}");
            Assert.Equal(inline.Pixels, aside.Pixels);
            decoded += aside.Pixels is null ? 0 : 1;
        }

        Assert.True(decoded > 0, "cuts after the image data still decode");
    }

    public static TheoryData<string> LeftToSkia() => ["interlaced", "gray-16-trns", "palette-4-bit", "rgba-trns", "damaged-trns-crc", "animation"];

    [Theory]
    [MemberData(nameof(LeftToSkia))]
    public void Decode_KindsLeftToSkia_StillDecode(string kind)
    {
        var (png, expected) = LeftToSkiaCase(kind);

        Assert.False(TakenByManagedDecoder(png), "left to SkiaSharp");
        using var image = Decoder().Open(png);
        using var decoded = image.Decode(image.Width, image.Height);

        Assert.Equal(expected, decoded.GetPixelSpan().ToArray());
    }

    private static (byte[] Png, byte[] Expected) LeftToSkiaCase(string kind)
    {
        switch (kind)
        {
            case "interlaced":
                {
                    var samples = PngFiles.RandomSamples(13, 11, 8, 2, seed: 21);
                    return (PngFiles.Write(13, 11, 8, 2, samples, y => y % 5, interlaced: true), Opaque(samples));
                }

            case "gray-16-trns":
                {
                    // Key 0x1234: the one pixel that matches becomes transparent; 0x12FF (same high byte) stays.
                    byte[] samples = [0x12, 0x34, 0x12, 0xFF, 0x80, 0x00];
                    return (PngFiles.Write(3, 1, 16, 0, samples, y => 0, [("tRNS", [0x12, 0x34])]), [0, 0, 0, 0, 0x12, 0x12, 0x12, 255, 0x80, 0x80, 0x80, 255]);
                }

            case "palette-4-bit":
                {
                    byte[] palette = [255, 0, 0, 0, 0, 255];
                    return (PngFiles.Write(2, 1, 4, 3, [0x01], y => 0, [("PLTE", palette)]), [255, 0, 0, 255, 0, 0, 255, 255]);
                }

            case "rgba-trns":
                {
                    // tRNS is not allowed beside an alpha channel: libpng ignores it.
                    byte[] samples = [10, 20, 30, 255];
                    return (PngFiles.Write(1, 1, 8, 6, samples, y => 0, [("tRNS", [0, 10, 0, 20, 0, 30])]), samples);
                }

            case "damaged-trns-crc":
                {
                    // libpng drops an ancillary chunk whose checksum fails: the key does not apply.
                    byte[] samples = [10, 20, 30];
                    var png = PngFiles.Write(1, 1, 8, 2, samples, y => 0, [("tRNS", [0, 10, 0, 20, 0, 30])]);
                    var trns = PngFiles.Chunks(png).Single(c => c.Type == "tRNS");
                    png[trns.Offset + 8 + trns.Length] ^= 0xFF;
                    return (png, [10, 20, 30, 255]);
                }

            default:
                {
                    // APNG: the default image is the IDAT one, as SkiaSharp decodes it.
                    byte[] samples = [1, 2, 3, 4, 5, 6];
                    byte[] actl = [0, 0, 0, 1, 0, 0, 0, 0];
                    return (PngFiles.Write(2, 1, 8, 2, samples, y => 0, [("acTL", actl)]), Opaque(samples));
                }
        }
    }

    private static byte[] Damaged(string damage, int width = 64, int height = 48)
    {
        var samples = PngFiles.RandomSamples(width, height, 8, 2, seed: 17);
        var png = PngFiles.Write(width, height, 8, 2, samples, y => 4);
        var idat = PngFiles.Chunks(png).First(c => c.Type == "IDAT");
        int data = idat.Offset + 8;
        switch (damage)
        {
            case "idat-crc":
                png[data + idat.Length] ^= 0x01;
                return png;
            case "zlib-data":
                for (int i = 10; i < idat.Length - 10; i += 50)
                    png[data + i] ^= 0x5A;
                return Rechecksum(png, idat.Offset, idat.Length);
            case "adler":
                {
                    var stream = PngFiles.Deflate(RawRows(samples, width * 3, height));
                    stream[^1] ^= 0x01;
                    return WithImageData(png, stream);
                }

            case "short-stream":
                return WithImageData(png, PngFiles.Deflate(RawRows(samples, width * 3, height)[..^(width * 3)]));
            case "bad-filter":
                {
                    var rows = RawRows(samples, width * 3, height);
                    rows[(height / 3) * ((width * 3) + 1)] = 5;
                    return WithImageData(png, PngFiles.Deflate(rows));
                }

            case "cut-in-idat":
                return png[..(data + (idat.Length / 2))];
            default:
                // An IDAT that claims more bytes than the file holds, in the middle of the image data.
                BinaryPrimitives.WriteInt32BigEndian(png.AsSpan(idat.Offset), idat.Length * 50);
                return png;
        }
    }

    private static byte[] RawRows(byte[] samples, int rowBytes, int height)
    {
        var rows = new byte[(rowBytes + 1) * height];
        for (int y = 0; y < height; y++)
            samples.AsSpan(y * rowBytes, rowBytes).CopyTo(rows.AsSpan((y * (rowBytes + 1)) + 1));
        return rows;
    }

    private static byte[] WithImageData(byte[] png, byte[] zlib)
    {
        var chunks = PngFiles.Chunks(png);
        var ihdr = chunks[0];
        return PngFiles.Assemble([("IHDR", png[(ihdr.Offset + 8)..(ihdr.Offset + 8 + ihdr.Length)]), ("IDAT", zlib), ("IEND", [])]);
    }

    private static byte[] Rechecksum(byte[] png, int offset, int length)
    {
        var data = png[(offset + 8)..(offset + 8 + length)];
        var chunk = PngFiles.Chunk("IDAT", data);
        chunk.CopyTo(png, offset);
        return png;
    }

    private static byte[] Opaque(byte[] rgb)
    {
        var rgba = new byte[rgb.Length / 3 * 4];
        for (int i = 0; i < rgb.Length / 3; i++)
        {
            rgb.AsSpan(i * 3, 3).CopyTo(rgba.AsSpan(i * 4));
            rgba[(i * 4) + 3] = 255;
        }

        return rgba;
    }

    /// <summary>Whether <see cref="PngDecoder.TryRead"/> takes the PNG (a damaged data chunk counts: it is refused there).</summary>
    private static bool TakenByManagedDecoder(byte[] png)
    {
        try
        {
            return PngDecoder.TryRead(png) is not null;
        }
        catch (ImageInputException)
        {
            return true;
        }
    }

    private static ImageDecoder Decoder(bool managedPng = true) =>
        new(Options.Create(new ImageLimitsOptions())) { ManagedPng = managedPng };

    private static void OpenAndDecode(byte[] png, bool managedPng)
    {
        using var image = Decoder(managedPng).Open(png);
        using var _ = image.Decode(image.Width, image.Height);
    }

    private static (ImageInputError? Error, byte[]? Pixels) Outcome(byte[] png, bool managedPng)
    {
        try
        {
            using var image = Decoder(managedPng).Open(png);
            using var decoded = image.Decode(image.Width, image.Height);
            return (null, decoded.GetPixelSpan().ToArray());
        }
        catch (ImageInputException e)
        {
            return (e.Error, null);
        }
    }

    /// <summary>What SkiaSharp's codec decodes, as the app asks it to (RGBA, premultiplied, no colour space).</summary>
    private static byte[] SkiaDecode(byte[] png)
    {
        using var codec = SKCodec.Create(new SKMemoryStream(png));
        var info = new SKImageInfo(codec.Info.Width, codec.Info.Height, SKColorType.Rgba8888, SKAlphaType.Premul);
        using var bitmap = new SKBitmap(info);
        Assert.Equal(SKCodecResult.Success, codec.GetPixels(info, bitmap.GetPixels()));
        return bitmap.GetPixelSpan().ToArray();
    }

    private static byte[] ManagedDecode(byte[] png, out PngImage image, bool inflateAside = false)
    {
        using var data = SKData.CreateCopy(png);
        image = PngDecoder.TryRead(data.AsSpan()) ?? throw new Xunit.Sdk.XunitException("The managed decoder left this PNG to SkiaSharp.");
        using var bitmap = new SKBitmap(new SKImageInfo(image.Width, image.Height, SKColorType.Rgba8888, SKAlphaType.Premul));
        PngDecoder.Decode(data, image, bitmap, inflateAside);
        return bitmap.GetPixelSpan().ToArray();
    }

    /// <summary>What <see cref="PngDecoder"/> makes of the PNG: its pixels, or the error of an image it cannot decode.</summary>
    private static (ImageInputError? Error, string? Message, byte[]? Pixels) ManagedOutcome(byte[] png, bool inflateAside)
    {
        try
        {
            return (null, null, ManagedDecode(png, out _, inflateAside));
        }
        catch (ImageInputException e)
        {
            return (e.Error, e.Message, null);
        }
    }

    /// <summary>Gradients, translucent circles and noise: rows that SkiaSharp's encoder filters in every way.</summary>
    private static byte[] PhotoLike(int width, int height, SKAlphaType alphaType)
    {
        var random = new Random(width + height);
        return Images.Draw(width, height, canvas =>
        {
            using var paint = new SKPaint { Shader = SKShader.CreateLinearGradient(new SKPoint(0, 0), new SKPoint(width, height), [new SKColor(90, 140, 220, 200), new SKColor(230, 200, 160)], SKShaderTileMode.Clamp) };
            canvas.DrawRect(0, 0, width, height, paint);
            paint.Shader = null;
            paint.IsAntialias = true;
            for (int i = 0; i < 40; i++)
            {
                paint.Color = new SKColor((byte)random.Next(256), (byte)random.Next(256), (byte)random.Next(256), (byte)random.Next(0, 256));
                canvas.DrawCircle(random.Next(width), random.Next(height), random.Next(3, 60), paint);
            }

            for (int i = 0; i < 2000; i++)
            {
                paint.Color = new SKColor((byte)random.Next(256), (byte)random.Next(256), (byte)random.Next(256), (byte)random.Next(256));
                canvas.DrawPoint(random.Next(width), random.Next(height), paint);
            }
        }, alphaType: alphaType);
    }
}

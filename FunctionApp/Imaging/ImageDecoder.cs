using Microsoft.Extensions.Options;
using SkiaSharp;

namespace FunctionApp.Imaging;

/// <summary>
/// Checks an encoded image against the limits from its header alone, then hands back an
/// <see cref="EncodedImage"/> that can decode it. No pixel is decoded before every limit has passed.
/// </summary>
public sealed class ImageDecoder(IOptions<ImageLimitsOptions> limits)
{
    private readonly ImageLimitsOptions _limits = limits.Value;

    public ImageLimitsOptions Limits => _limits;

    /// <summary>
    /// True: PNGs of the common kinds decode with <see cref="PngDecoder"/> (the same pixels as SkiaSharp's decoder);
    /// false leaves every PNG to SkiaSharp.
    /// </summary>
    public bool ManagedPng { get; init; } = true;

    /// <exception cref="ImageInputException">The data is empty, too large, not a supported format, corrupt, or declares too many pixels.</exception>
    public EncodedImage Open(ReadOnlySpan<byte> encoded)
    {
        if (encoded.IsEmpty)
            throw new ImageInputException(ImageInputError.Empty, "The image is empty (0 bytes).");
        if (encoded.Length > _limits.MaxBytes)
        {
            throw new ImageInputException(
                ImageInputError.TooLarge,
                $"The image is {encoded.Length:N0} bytes, over the limit of {_limits.MaxBytes:N0} bytes (ImageLimits:MaxBytes).");
        }

        var format = ImageFormatSniffer.Detect(encoded);
        if (format == ImageFormat.Unknown)
        {
            throw new ImageInputException(
                ImageInputError.UnsupportedFormat,
                "The data is not a supported image format; send JPEG, PNG, BMP, GIF or WebP.");
        }

        // The size the header declares decides before any decoder exists (a header alone can declare a bomb).
        if (ImageHeader.DeclaredSize(encoded, format) is { } declared && declared.Width * declared.Height > _limits.MaxPixels)
        {
            throw new ImageInputException(
                ImageInputError.TooManyPixels,
                $"The image declares {declared.Width}x{declared.Height} ({declared.Width * declared.Height:N0} pixels), over the limit of {_limits.MaxPixels:N0} pixels (ImageLimits:MaxPixels).");
        }

        var data = SKData.CreateCopy(encoded);
        var stream = new SKMemoryStream(data);
        var codec = SKCodec.Create(stream, out var result);
        if (codec is null)
        {
            stream.Dispose();
            data.Dispose();
            throw new ImageInputException(
                ImageInputError.Undecodable,
                $"The {ImageFormatSniffer.MediaType(format)} data cannot be decoded ({Describe(result)}).");
        }

        var info = codec.Info;
        long pixels = (long)info.Width * info.Height;
        if (info.Width <= 0 || info.Height <= 0)
        {
            codec.Dispose();
            data.Dispose();
            throw new ImageInputException(ImageInputError.Undecodable, "The image declares no pixels.");
        }

        if (pixels > _limits.MaxPixels)
        {
            codec.Dispose();
            data.Dispose();
            throw new ImageInputException(
                ImageInputError.TooManyPixels,
                $"The image is {info.Width}x{info.Height} ({pixels:N0} pixels), over the limit of {_limits.MaxPixels:N0} pixels (ImageLimits:MaxPixels).");
        }

        return new EncodedImage(format, data, codec, ManagedPng);
    }

    internal static string Describe(SKCodecResult result) => result switch
    {
        SKCodecResult.IncompleteInput or SKCodecResult.ErrorInInput => "the data is truncated or damaged",
        SKCodecResult.Unimplemented => "this variant of the format is not supported",
        SKCodecResult.InvalidInput => "the data is not valid for this format",
        _ => $"decoder result {result}",
    };
}

/// <summary>An image whose header passed the limits; decoding happens on demand.</summary>
public sealed class EncodedImage : IDisposable
{
    private static readonly float[] DecoderScales = [0.125f, 0.25f, 0.375f, 0.5f, 0.625f, 0.75f, 0.875f];
    private readonly SKData _data;
    private readonly SKCodec _codec;
    private readonly bool _managedPng;

    internal EncodedImage(ImageFormat format, SKData data, SKCodec codec, bool managedPng)
    {
        Format = format;
        _data = data;
        _codec = codec;
        _managedPng = managedPng;
        Origin = codec.EncodedOrigin;
        var swap = SwapsAxes(Origin);
        Width = swap ? codec.Info.Height : codec.Info.Width;
        Height = swap ? codec.Info.Width : codec.Info.Height;
    }

    public ImageFormat Format { get; }

    /// <summary>Width as displayed, after the EXIF orientation.</summary>
    public int Width { get; }

    /// <summary>Height as displayed, after the EXIF orientation.</summary>
    public int Height { get; }

    public SKEncodedOrigin Origin { get; }

    /// <summary>
    /// Decodes the first frame, upright, as RGBA. Where the codec can scale while decoding (JPEG's DCT
    /// scaling), it decodes at the smallest scale that still covers <paramref name="minWidth"/> x
    /// <paramref name="minHeight"/> in display orientation, which is far cheaper than a full decode. PNGs of the
    /// common kinds go through <see cref="PngDecoder"/>; the orientation is still the codec's (SkiaSharp reads none from
    /// a PNG's eXIf chunk, and neither does this).
    /// </summary>
    public SKBitmap Decode(int minWidth, int minHeight)
    {
        SKBitmap bitmap;
        using (var work = CpuWork.Begin())
            bitmap = (Format == ImageFormat.Png && _managedPng ? DecodePng(work.Alone) : null) ?? DecodeWithCodec(minWidth, minHeight);
        if (Origin == SKEncodedOrigin.TopLeft)
            return bitmap;

        using (bitmap)
            return Orient(bitmap, Origin);
    }

    /// <summary>
    /// The whole PNG with <see cref="PngDecoder"/>, or null when that decoder leaves it to the codec. With a core to
    /// spare (<paramref name="alone"/>), the image data of a large enough PNG is inflated on it while this thread
    /// unfilters the rows: the motorcycle photo (741x500) decoded in about 0.5 ms less on 2 cores.
    /// </summary>
    private SKBitmap? DecodePng(bool alone)
    {
        if (PngDecoder.TryRead(_data.AsSpan()) is not { } png || png.Width != _codec.Info.Width || png.Height != _codec.Info.Height)
            return null;
        var bitmap = new SKBitmap(new SKImageInfo(png.Width, png.Height, SKColorType.Rgba8888, SKAlphaType.Premul));
        try
        {
            PngDecoder.Decode(_data, png, bitmap, inflateAside: alone && PngDecoder.WorthInflatingAside(png));
            return bitmap;
        }
        catch
        {
            bitmap.Dispose();
            throw;
        }
    }

    private SKBitmap DecodeWithCodec(int minWidth, int minHeight)
    {
        var full = _codec.Info;
        var size = DecodedSize(minWidth, minHeight);
        var info = new SKImageInfo(size.Width, size.Height, SKColorType.Rgba8888, SKAlphaType.Premul);
        var bitmap = new SKBitmap(info);
        var result = _codec.GetPixels(info, bitmap.GetPixels());
        if (result == SKCodecResult.InvalidScale && size != full.Size)
        {
            bitmap.Dispose();
            info = new SKImageInfo(full.Width, full.Height, SKColorType.Rgba8888, SKAlphaType.Premul);
            bitmap = new SKBitmap(info);
            result = _codec.GetPixels(info, bitmap.GetPixels());
        }

        if (result != SKCodecResult.Success)
        {
            bitmap.Dispose();
            throw new ImageInputException(
                ImageInputError.Undecodable,
                $"The {ImageFormatSniffer.MediaType(Format)} data cannot be decoded ({ImageDecoder.Describe(result)}).");
        }

        return bitmap;
    }

    /// <summary>The size <see cref="Decode"/> decodes at for these minimums, in the codec's (stored) orientation.</summary>
    public SKSizeI DecodedSize(int minWidth, int minHeight)
    {
        var full = _codec.Info;
        var swap = SwapsAxes(Origin);
        int needW = swap ? minHeight : minWidth;
        int needH = swap ? minWidth : minHeight;
        foreach (var scale in DecoderScales)
        {
            // JPEG decodes at n/8 scales; codecs that cannot scale report their full size.
            var scaled = _codec.GetScaledDimensions(scale);
            if (scaled.Width >= needW && scaled.Height >= needH && (long)scaled.Width * scaled.Height < (long)full.Width * full.Height)
                return scaled;
        }

        return full.Size;
    }

    public void Dispose()
    {
        _codec.Dispose();
        _data.Dispose();
    }

    private static bool SwapsAxes(SKEncodedOrigin origin) =>
        origin is SKEncodedOrigin.LeftTop or SKEncodedOrigin.RightTop or SKEncodedOrigin.RightBottom or SKEncodedOrigin.LeftBottom;

    /// <summary>Applies an EXIF orientation so the returned bitmap is upright.</summary>
    private static SKBitmap Orient(SKBitmap source, SKEncodedOrigin origin)
    {
        float w = source.Width, h = source.Height;
        var matrix = origin switch
        {
            SKEncodedOrigin.TopRight => new SKMatrix(-1, 0, w, 0, 1, 0, 0, 0, 1),
            SKEncodedOrigin.BottomRight => new SKMatrix(-1, 0, w, 0, -1, h, 0, 0, 1),
            SKEncodedOrigin.BottomLeft => new SKMatrix(1, 0, 0, 0, -1, h, 0, 0, 1),
            SKEncodedOrigin.LeftTop => new SKMatrix(0, 1, 0, 1, 0, 0, 0, 0, 1),
            SKEncodedOrigin.RightTop => new SKMatrix(0, -1, h, 1, 0, 0, 0, 0, 1),
            SKEncodedOrigin.RightBottom => new SKMatrix(0, -1, h, -1, 0, w, 0, 0, 1),
            SKEncodedOrigin.LeftBottom => new SKMatrix(0, 1, 0, -1, 0, w, 0, 0, 1),
            _ => SKMatrix.Identity,
        };

        var swap = SwapsAxes(origin);
        var info = new SKImageInfo(swap ? source.Height : source.Width, swap ? source.Width : source.Height, SKColorType.Rgba8888, SKAlphaType.Premul);
        var upright = new SKBitmap(info);
        using var canvas = new SKCanvas(upright);
        canvas.Clear(SKColors.Transparent);
        canvas.SetMatrix(matrix);
        using var image = SKImage.FromBitmap(source);
        canvas.DrawImage(image, 0, 0, new SKSamplingOptions(SKFilterMode.Nearest));
        canvas.Flush();
        return upright;
    }
}

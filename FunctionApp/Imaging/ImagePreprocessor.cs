using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using SkiaSharp;

namespace FunctionApp.Imaging;

/// <summary>Time spent turning encoded bytes into a tensor.</summary>
public readonly record struct PreprocessTimings(TimeSpan Decode, TimeSpan Preprocess);

/// <summary>
/// The preprocessing suite: decode (scaled where the codec can), apply EXIF orientation, composite
/// transparency over white, resize or resize-and-crop, then write a normalised tensor as the model's
/// manifest describes. Every path that feeds a model goes through here. The asynchronous methods take their share of
/// the process's <see cref="DecodeBudget"/> (when one is given) before they decode.
/// </summary>
public sealed class ImagePreprocessor(ImageDecoder decoder, DecodeBudget? budget = null)
{
    private static readonly SKSamplingOptions Bilinear = new(SKFilterMode.Linear, SKMipmapMode.None);
    private static readonly SKColorFilter GrayscaleFilter = SKColorFilter.CreateColorMatrix(
    [
        0.299f, 0.587f, 0.114f, 0, 0,
        0.299f, 0.587f, 0.114f, 0, 0,
        0.299f, 0.587f, 0.114f, 0, 0,
        0, 0, 0, 1, 0,
    ]);

    public ImageDecoder Decoder => decoder;

    /// <summary>Decodes and preprocesses an image into a new tensor of <see cref="PreprocessingSpec.TensorLength"/> floats.</summary>
    /// <exception cref="ImageInputException">The image breaks a limit or cannot be decoded.</exception>
    public float[] Preprocess(ReadOnlySpan<byte> encoded, PreprocessingSpec spec, out PreprocessTimings timings)
    {
        var tensor = new float[spec.TensorLength];
        Preprocess(encoded, spec, tensor, out timings);
        return tensor;
    }

    /// <summary>Decodes and preprocesses an image into <paramref name="destination"/>.</summary>
    /// <exception cref="ImageInputException">The image breaks a limit or cannot be decoded.</exception>
    public void Preprocess(ReadOnlySpan<byte> encoded, PreprocessingSpec spec, Span<float> destination, out PreprocessTimings timings)
    {
        ArgumentNullException.ThrowIfNull(spec);
        if (destination.Length != spec.TensorLength)
            throw new ArgumentException($"The destination holds {destination.Length} floats; the spec needs {spec.TensorLength}.", nameof(destination));

        long start = Stopwatch.GetTimestamp();
        using var image = decoder.Open(encoded);
        using var decoded = DecodeFor(image, spec);
        long decodedAt = Stopwatch.GetTimestamp();
        using var rendered = Render(decoded, spec);
        WriteTensor(rendered, spec, destination);
        timings = new PreprocessTimings(Stopwatch.GetElapsedTime(start, decodedAt), Stopwatch.GetElapsedTime(decodedAt));
    }

    /// <summary>
    /// Decodes and preprocesses an image into a tensor from <see cref="TensorBuffers"/> (the caller may give it back
    /// there once done with it), once its decoded pixels fit the process's budget.
    /// </summary>
    /// <exception cref="ImageInputException">The image breaks a limit or cannot be decoded.</exception>
    public async Task<(float[] Tensor, PreprocessTimings Timings)> PreprocessAsync(ReadOnlyMemory<byte> encoded, PreprocessingSpec spec, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(spec);
        using var image = decoder.Open(encoded.Span);
        using var lease = await AcquireAsync(DecodeCost(image, spec), cancellationToken);
        long start = Stopwatch.GetTimestamp();
        using var decoded = DecodeFor(image, spec);
        long decodedAt = Stopwatch.GetTimestamp();
        using var rendered = Render(decoded, spec);
        var tensor = TensorBuffers.Rent(spec.TensorLength);
        WriteTensor(rendered, spec, tensor);
        return (tensor, new PreprocessTimings(Stopwatch.GetElapsedTime(start, decodedAt), Stopwatch.GetElapsedTime(decodedAt)));
    }

    /// <summary>The image as the model sees it, encoded as PNG, once its decoded pixels fit the process's budget.</summary>
    public async Task<byte[]> RenderPngAsync(ReadOnlyMemory<byte> encoded, PreprocessingSpec spec, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(spec);
        using var image = decoder.Open(encoded.Span);
        using var lease = await AcquireAsync(DecodeCost(image, spec), cancellationToken);
        using var decoded = DecodeFor(image, spec);
        using var rendered = Render(decoded, spec);
        return EncodePng(rendered);
    }

    /// <summary><see cref="Thumbnail(ReadOnlySpan{byte}, int)"/>, once its decoded pixels fit the process's budget.</summary>
    public async Task<byte[]> ThumbnailAsync(ReadOnlyMemory<byte> encoded, int size, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(size, 1);
        using var image = decoder.Open(encoded.Span);
        var (width, height) = ThumbnailSize(image, size);
        using var lease = await AcquireAsync(DecodeCost(image, new PreprocessingSpec { Width = width, Height = height }), cancellationToken);
        using var decoded = image.Decode(width, height);
        using var thumbnail = Render(decoded, new PreprocessingSpec { Width = width, Height = height });
        return EncodePng(thumbnail);
    }

    /// <summary>
    /// Bytes of pixels held at once while preprocessing <paramref name="image"/> for <paramref name="spec"/>: the decoded
    /// bitmap (at the decoder's scale), its upright copy when the image is rotated, the block-averaged copy of a strong downscale,
    /// and the model-sized result.
    /// </summary>
    public static long DecodeCost(EncodedImage image, PreprocessingSpec spec)
    {
        ArgumentNullException.ThrowIfNull(image);
        ArgumentNullException.ThrowIfNull(spec);
        var (minWidth, minHeight) = spec.Resize == ResizeMode.Stretch
            ? (spec.Width, spec.Height)
            : ((int)Math.Ceiling(image.Width * (double)spec.ResizeShorterSide / Math.Min(image.Width, image.Height)), (int)Math.Ceiling(image.Height * (double)spec.ResizeShorterSide / Math.Min(image.Width, image.Height)));
        var decoded = image.DecodedSize(minWidth, minHeight);
        long bytes = 4L * decoded.Width * decoded.Height;
        if (image.Origin != SKEncodedOrigin.TopLeft)
            bytes *= 2;
        if (decoded.Width >= 2 * spec.Width || decoded.Height >= 2 * spec.Height)
            bytes += bytes / 2;
        return bytes + (4L * spec.Width * spec.Height);
    }

    private ValueTask<IDisposable> AcquireAsync(long bytes, CancellationToken cancellationToken) =>
        budget is null ? ValueTask.FromResult<IDisposable>(NoLease.Instance) : budget.AcquireAsync(bytes, cancellationToken);

    private static (int Width, int Height) ThumbnailSize(EncodedImage image, int size)
    {
        double scale = Math.Min(1.0, (double)size / Math.Max(image.Width, image.Height));
        return (Math.Max(1, (int)Math.Round(image.Width * scale)), Math.Max(1, (int)Math.Round(image.Height * scale)));
    }

    private sealed class NoLease : IDisposable
    {
        public static readonly NoLease Instance = new();

        public void Dispose()
        {
        }
    }

    /// <summary>Decodes and renders an image at the model's input size (for previews and stored preprocessed images).</summary>
    public SKBitmap Render(ReadOnlySpan<byte> encoded, PreprocessingSpec spec)
    {
        using var image = decoder.Open(encoded);
        using var decoded = DecodeFor(image, spec);
        return Render(decoded, spec);
    }

    /// <summary>Decodes no larger than the resize step needs.</summary>
    public static SKBitmap DecodeFor(EncodedImage image, PreprocessingSpec spec)
    {
        ArgumentNullException.ThrowIfNull(image);
        ArgumentNullException.ThrowIfNull(spec);
        if (spec.Resize == ResizeMode.Stretch)
            return image.Decode(spec.Width, spec.Height);

        double scale = (double)spec.ResizeShorterSide / Math.Min(image.Width, image.Height);
        return image.Decode((int)Math.Ceiling(image.Width * scale), (int)Math.Ceiling(image.Height * scale));
    }

    /// <summary>Resizes (and crops) an upright decoded image to the spec's size, over a white background.</summary>
    public static SKBitmap Render(SKBitmap decoded, PreprocessingSpec spec)
    {
        ArgumentNullException.ThrowIfNull(decoded);
        ArgumentNullException.ThrowIfNull(spec);
        var source = SourceRect(decoded.Width, decoded.Height, spec);
        var target = new SKBitmap(new SKImageInfo(spec.Width, spec.Height, SKColorType.Rgba8888, SKAlphaType.Opaque));
        // A strong downscale averages whole blocks first (one cheap pass), then bilinear covers the last factor below 2.
        using var reduced = AreaDownscale.Reduce(decoded, source, spec.Width, spec.Height, out var reducedSource);
        var pixels = reduced ?? decoded;
        bool grayscale = spec.Grayscale || spec.Channels == 1;
        if (!grayscale && pixels.ColorType == SKColorType.Rgba8888 && pixels.AlphaType is SKAlphaType.Premul or SKAlphaType.Opaque)
        {
            BilinearResample.Resample(pixels, reducedSource, target);
            return target;
        }

        // Grayscale goes through the canvas's colour filter, as do pixels in other layouts.
        pixels.SetImmutable();
        using var image = SKImage.FromBitmap(pixels);
        using var canvas = new SKCanvas(target);
        canvas.Clear(SKColors.White);
        using var paint = grayscale ? new SKPaint { ColorFilter = GrayscaleFilter } : null;
        canvas.DrawImage(image, reducedSource, new SKRect(0, 0, spec.Width, spec.Height), Bilinear, paint);
        canvas.Flush();
        return target;
    }

    /// <summary>
    /// A thumbnail whose longer side is <paramref name="size"/> pixels (never enlarged), upright, over white,
    /// encoded as PNG.
    /// </summary>
    public byte[] Thumbnail(ReadOnlySpan<byte> encoded, int size)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(size, 1);
        using var image = decoder.Open(encoded);
        var (width, height) = ThumbnailSize(image, size);
        using var decoded = image.Decode(width, height);
        using var thumbnail = Render(decoded, new PreprocessingSpec { Width = width, Height = height });
        return EncodePng(thumbnail);
    }

    public static byte[] EncodePng(SKBitmap bitmap)
    {
        ArgumentNullException.ThrowIfNull(bitmap);
        using var data = bitmap.Encode(SKEncodedImageFormat.Png, 100);
        return data.ToArray();
    }

    /// <summary>The part of the source that maps onto the output: all of it, or the centre crop.</summary>
    public static SKRect SourceRect(int width, int height, PreprocessingSpec spec)
    {
        ArgumentNullException.ThrowIfNull(spec);
        if (spec.Resize == ResizeMode.Stretch)
            return new SKRect(0, 0, width, height);

        float scale = (float)spec.ResizeShorterSide / Math.Min(width, height);
        float cropW = Math.Min(width, spec.Width / scale);
        float cropH = Math.Min(height, spec.Height / scale);
        float left = (width - cropW) / 2f;
        float top = (height - cropH) / 2f;
        return new SKRect(left, top, left + cropW, top + cropH);
    }

    /// <summary>One channel of packed 4-byte pixels (the byte at <paramref name="shift"/> bits) as a plane of <c>byte * multiply + add</c>.</summary>
    private static void WritePlane(ReadOnlySpan<uint> packed, int shift, float multiply, float add, Span<float> plane)
    {
        int i = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            var m = Vector256.Create(multiply);
            var a = Vector256.Create(add);
            var mask = Vector256.Create(0xFFu);
            ref uint source = ref MemoryMarshal.GetReference(packed);
            ref float target = ref MemoryMarshal.GetReference(plane);
            for (; i <= packed.Length - Vector256<uint>.Count; i += Vector256<uint>.Count)
            {
                var bytes = (Vector256.LoadUnsafe(ref source, (nuint)i) >> shift) & mask;
                ((Vector256.ConvertToSingle(bytes.AsInt32()) * m) + a).StoreUnsafe(ref target, (nuint)i);
            }
        }

        for (; i < packed.Length; i++)
            plane[i] = ((packed[i] >> shift) & 0xFF) * multiply + add;
    }

    /// <summary>Writes an opaque RGBA bitmap of the spec's size as a normalised tensor.</summary>
    public static void WriteTensor(SKBitmap rendered, PreprocessingSpec spec, Span<float> destination)
    {
        ArgumentNullException.ThrowIfNull(rendered);
        ArgumentNullException.ThrowIfNull(spec);
        int pixels = spec.Width * spec.Height;
        if (rendered.Width != spec.Width || rendered.Height != spec.Height || rendered.ColorType != SKColorType.Rgba8888)
            throw new ArgumentException("The bitmap must be RGBA at the spec's size.", nameof(rendered));
        if (destination.Length != spec.TensorLength)
            throw new ArgumentException("The destination has the wrong length.", nameof(destination));

        // value = (byte * pixelScale - mean) / std, folded into one multiply-add per channel.
        float unit = spec.PixelScale == PixelScale.Unit ? 1f / 255f : 1f;
        int channels = spec.Channels;
        Span<float> multiply = stackalloc float[channels];
        Span<float> add = stackalloc float[channels];
        for (int c = 0; c < channels; c++)
        {
            multiply[c] = unit / spec.StdOf(c);
            add[c] = -spec.MeanOf(c) / spec.StdOf(c);
        }

        var rgba = rendered.GetPixelSpan();
        if (channels == 1)
        {
            // Rendered through the grayscale filter: every colour byte holds the luma. One plane in either layout.
            float m = multiply[0], a = add[0];
            for (int i = 0; i < pixels; i++)
                destination[i] = rgba[i * 4] * m + a;
            return;
        }

        // Tensor channel c reads RGBA byte offset sourceOffset[c].
        Span<int> sourceOffset = spec.ChannelOrder == ChannelOrder.Rgb ? [0, 1, 2] : [2, 1, 0];

        if (spec.Layout == TensorLayout.Nchw)
        {
            var packed = MemoryMarshal.Cast<byte, uint>(rgba[..(pixels * 4)]);
            for (int c = 0; c < 3; c++)
                WritePlane(packed, 8 * sourceOffset[c], multiply[c], add[c], destination.Slice(c * pixels, pixels));
        }
        else
        {
            for (int i = 0; i < pixels; i++)
            {
                for (int c = 0; c < 3; c++)
                    destination[(i * 3) + c] = rgba[(i * 4) + sourceOffset[c]] * multiply[c] + add[c];
            }
        }
    }
}

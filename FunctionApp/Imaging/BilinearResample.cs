using System.Buffers;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using SkiaSharp;

namespace FunctionApp.Imaging;

/// <summary>
/// The bilinear step of preprocessing: a region of a premultiplied RGBA bitmap resampled to the output size and
/// composited over white, as a canvas draws it (output pixel centres mapped into the region, taps clamped to the
/// bitmap's edges), in 8-bit fixed point. It replaces a canvas draw, whose general pipeline (a shader per pixel, then
/// blending onto a cleared target) cost about as much as everything else in preprocessing a decoded JPEG.
/// Separable: each output row blends two source rows across their whole width (vectorised), then each output pixel
/// blends two neighbours of that blended row.
/// </summary>
public static class BilinearResample
{
    private const int WeightBits = 8;
    private const int WeightOne = 1 << WeightBits;

    /// <summary>
    /// Resamples <paramref name="region"/> of <paramref name="source"/> (4 bytes per pixel, premultiplied or opaque, in
    /// RGBA or BGRA order) into <paramref name="target"/> (the same order, opaque), compositing over white.
    /// </summary>
    public static void Resample(SKBitmap source, SKRect region, SKBitmap target)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(target);
        if (source.BytesPerPixel != 4 || target.BytesPerPixel != 4)
            throw new ArgumentException("Both bitmaps must have 4 bytes per pixel.", nameof(source));
        Resample(source.GetPixelSpan(), source.Width, source.Height, source.RowBytes, region, target.GetPixelSpan(), target.Width, target.Height, target.RowBytes);
    }

    /// <summary>The same over raw pixel rows; every row holds <c>width * 4</c> bytes from its start.</summary>
    public static void Resample(
        ReadOnlySpan<byte> source, int sourceWidth, int sourceHeight, int sourceStride, SKRect region,
        Span<byte> target, int width, int height, int targetStride)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(sourceWidth, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(sourceHeight, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(width, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(height, 1);
        if (sourceStride < sourceWidth * 4 || source.Length < ((sourceHeight - 1) * sourceStride) + (sourceWidth * 4))
            throw new ArgumentException("The source is smaller than its size says.", nameof(source));
        if (targetStride < width * 4 || target.Length < ((height - 1) * targetStride) + (width * 4))
            throw new ArgumentException("The target is smaller than its size says.", nameof(target));

        int rowLength = sourceWidth * 4;
        // One pixel more than a row: the right-hand tap of the last column reads it (with a weight of zero).
        var blendedArray = ArrayPool<ushort>.Shared.Rent(rowLength + 4 + Vector128<ushort>.Count);
        var tapsArray = ArrayPool<int>.Shared.Rent(width * 2);
        try
        {
            var blended = blendedArray.AsSpan(0, rowLength + 4);
            var taps = tapsArray.AsSpan(0, width * 2);
            float scaleX = region.Width / width, scaleY = region.Height / height;
            for (int x = 0; x < width; x++)
            {
                var (x0, wx) = Tap(region.Left + ((x + 0.5f) * scaleX) - 0.5f, sourceWidth);
                taps[2 * x] = x0 * 4;
                taps[(2 * x) + 1] = wx;
            }

            for (int y = 0; y < height; y++)
            {
                var (y0, wy) = Tap(region.Top + ((y + 0.5f) * scaleY) - 0.5f, sourceHeight);
                int y1 = Math.Min(y0 + 1, sourceHeight - 1);
                BlendRows(source.Slice(y0 * sourceStride, rowLength), source.Slice(y1 * sourceStride, rowLength), wy, blended);
                blended.Slice(rowLength - 4, 4).CopyTo(blended.Slice(rowLength, 4));
                BlendColumns(blended, taps, target.Slice(y * targetStride, width * 4));
            }
        }
        finally
        {
            ArrayPool<int>.Shared.Return(tapsArray);
            ArrayPool<ushort>.Shared.Return(blendedArray);
        }
    }

    /// <summary>The left (or top) tap for a sample at <paramref name="position"/>, clamped, and the right tap's weight.</summary>
    private static (int Index, int Weight) Tap(float position, int length)
    {
        int index = (int)MathF.Floor(position);
        int weight = (int)MathF.Round((position - index) * WeightOne);
        if (weight == WeightOne)
        {
            index++;
            weight = 0;
        }

        if (index < 0)
            return (0, 0);
        if (index >= length - 1)
            return (length - 1, 0);
        return (index, weight);
    }

    /// <summary>blended = top * (1 - w) + bottom * w, scaled by 256 (at most 255 * 256, so it fits 16 bits).</summary>
    private static void BlendRows(ReadOnlySpan<byte> top, ReadOnlySpan<byte> bottom, int weight, Span<ushort> blended)
    {
        ushort w0 = (ushort)(WeightOne - weight), w1 = (ushort)weight;
        int i = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            var v0 = Vector256.Create(w0);
            var v1 = Vector256.Create(w1);
            ref byte t = ref MemoryMarshal.GetReference(top);
            ref byte b = ref MemoryMarshal.GetReference(bottom);
            ref ushort o = ref MemoryMarshal.GetReference(blended);
            for (; i <= top.Length - Vector256<byte>.Count; i += Vector256<byte>.Count)
            {
                var (tLow, tHigh) = Vector256.Widen(Vector256.LoadUnsafe(ref t, (nuint)i));
                var (bLow, bHigh) = Vector256.Widen(Vector256.LoadUnsafe(ref b, (nuint)i));
                ((tLow * v0) + (bLow * v1)).StoreUnsafe(ref o, (nuint)i);
                ((tHigh * v0) + (bHigh * v1)).StoreUnsafe(ref o, (nuint)(i + Vector256<ushort>.Count));
            }
        }

        for (; i < top.Length; i++)
            blended[i] = (ushort)((top[i] * w0) + (bottom[i] * w1));
    }

    /// <summary>
    /// Each output pixel from its two taps in the blended row, composited over white: a premultiplied colour c with
    /// alpha a over white is c + (255 - a), and both sides are linear, so it applies after the blend.
    /// </summary>
    private static void BlendColumns(ReadOnlySpan<ushort> blended, ReadOnlySpan<int> taps, Span<byte> row)
    {
        ref ushort source = ref MemoryMarshal.GetReference(blended);
        ref uint output = ref Unsafe.As<byte, uint>(ref MemoryMarshal.GetReference(row));
        const uint White = (255u << (2 * WeightBits)) + (1u << ((2 * WeightBits) - 1));
        int width = row.Length / 4;
        for (int x = 0; x < width; x++)
        {
            int offset = taps[2 * x];
            uint w1 = (uint)taps[(2 * x) + 1], w0 = WeightOne - w1;
            // Both taps' four channels in one load (the row has a spare pixel past its end).
            var (left, right) = Vector128.Widen(Vector128.LoadUnsafe(ref source, (nuint)offset));
            var sum = (left * w0) + (right * w1);
            var pixel = (sum + Vector128.Create(White - sum.GetElement(3))) >> (2 * WeightBits);
            Unsafe.Add(ref output, x) = pixel.GetElement(0) | (pixel.GetElement(1) << 8) | (pixel.GetElement(2) << 16) | 0xFF000000u;
        }
    }
}

using System.Buffers;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using SkiaSharp;

namespace FunctionApp.Imaging;

/// <summary>
/// The first step of a strong downscale: the region of interest averaged over whole blocks of pixels (box or area
/// reduction by integer factors), so that a bilinear step finishes the job from less than twice the output size.
/// One pass over the source instead of a chain of mipmaps, and every source pixel counts (plain bilinear from far
/// above the output size would skip most of them and alias).
/// </summary>
public static class AreaDownscale
{
    /// <summary>
    /// Reduces <paramref name="region"/> of <paramref name="source"/> (a 4-byte-per-pixel bitmap) by the largest integer
    /// factors that keep it at least <paramref name="width"/> x <paramref name="height"/>. Returns null when no factor
    /// is 2 or more (nothing to gain); otherwise the reduced pixels and where the region lies in them.
    /// </summary>
    public static SKBitmap? Reduce(SKBitmap source, SKRect region, int width, int height, out SKRect reducedRegion)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentOutOfRangeException.ThrowIfLessThan(width, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(height, 1);
        reducedRegion = region;
        if (source.BytesPerPixel != 4)
            return null;

        int kx = Math.Max(1, (int)(region.Width / width));
        int ky = Math.Max(1, (int)(region.Height / height));
        if (kx < 2 && ky < 2)
            return null;

        // The whole pixels that the region touches; blocks start at its left/top edge.
        int x0 = Math.Clamp((int)Math.Floor(region.Left), 0, source.Width - 1);
        int y0 = Math.Clamp((int)Math.Floor(region.Top), 0, source.Height - 1);
        int x1 = Math.Clamp((int)Math.Ceiling(region.Right), x0 + 1, source.Width);
        int y1 = Math.Clamp((int)Math.Ceiling(region.Bottom), y0 + 1, source.Height);
        int inW = x1 - x0, inH = y1 - y0;
        int outW = (inW + kx - 1) / kx, outH = (inH + ky - 1) / ky;

        var target = new SKBitmap(new SKImageInfo(outW, outH, source.ColorType, source.AlphaType));
        ReadOnlySpan<byte> src = source.GetPixelSpan();
        var dst = target.GetPixelSpan();
        int srcStride = source.RowBytes, dstStride = target.RowBytes;
        // Each output row: its block of source rows summed column by column (vectorised), then each output pixel's
        // columns of those sums added four channels at a time and divided by the block's size.
        var rented = ArrayPool<uint>.Shared.Rent((inW * 4) + Vector128<uint>.Count);
        try
        {
            var columnSums = rented.AsSpan(0, inW * 4);
            ref uint sums = ref MemoryMarshal.GetArrayDataReference(rented);
            var average = default(BlockAverage);
            for (int oy = 0; oy < outH; oy++)
            {
                columnSums.Clear();
                int ys = y0 + (oy * ky), ye = Math.Min(ys + ky, y1);
                for (int y = ys; y < ye; y++)
                    AddRow(src.Slice((y * srcStride) + (x0 * 4), inW * 4), columnSums);

                ref byte outRow = ref MemoryMarshal.GetReference(dst.Slice(oy * dstStride, outW * 4));
                int rows = ye - ys;
                for (int ox = 0; ox < outW; ox++)
                {
                    int xs = ox * kx, xe = Math.Min(xs + kx, inW);
                    var block = Vector128<uint>.Zero;
                    for (int x = xs; x < xe; x++)
                        block += Vector128.LoadUnsafe(ref sums, (nuint)(x * 4));
                    int count = rows * (xe - xs);
                    if (count != average.Count)
                        average = new BlockAverage(count);
                    Unsafe.WriteUnaligned(ref Unsafe.Add(ref outRow, ox * 4), average.Pack(block));
                }
            }
        }
        finally
        {
            ArrayPool<uint>.Shared.Return(rented);
        }

        reducedRegion = new SKRect(
            (region.Left - x0) / kx,
            (region.Top - y0) / ky,
            Math.Min(outW, (region.Right - x0) / kx),
            Math.Min(outH, (region.Bottom - y0) / ky));
        return target;
    }

    /// <summary>sums += row, byte by byte.</summary>
    private static void AddRow(ReadOnlySpan<byte> row, Span<uint> sums)
    {
        int i = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            ref byte source = ref MemoryMarshal.GetReference(row);
            ref uint target = ref MemoryMarshal.GetReference(sums);
            for (; i <= row.Length - Vector256<byte>.Count; i += Vector256<byte>.Count)
            {
                var (low, high) = Vector256.Widen(Vector256.LoadUnsafe(ref source, (nuint)i));
                var (a, b) = Vector256.Widen(low);
                var (c, d) = Vector256.Widen(high);
                (Vector256.LoadUnsafe(ref target, (nuint)i) + a).StoreUnsafe(ref target, (nuint)i);
                (Vector256.LoadUnsafe(ref target, (nuint)(i + 8)) + b).StoreUnsafe(ref target, (nuint)(i + 8));
                (Vector256.LoadUnsafe(ref target, (nuint)(i + 16)) + c).StoreUnsafe(ref target, (nuint)(i + 16));
                (Vector256.LoadUnsafe(ref target, (nuint)(i + 24)) + d).StoreUnsafe(ref target, (nuint)(i + 24));
            }
        }

        for (; i < row.Length; i++)
            sums[i] += row[i];
    }

    /// <summary>
    /// The rounded averages of a block's four channel sums, floor((sum + n / 2) / n) for a block of n pixels, all four
    /// at once. Below 4096 pixels it multiplies in single precision by the reciprocal of n nudged up by 2^-22, which is
    /// exact: the sums (under 2^20) and the halves are exact as floats, and the roundings of the reciprocal and of the
    /// product move the product by less than 0.75 x 2^-22 of itself, which the nudge outweighs, so the product is never
    /// below the true quotient; and it is at most 1.75 x 2^-22 x 256 (under 1/4096) above it, nearer than a fraction
    /// with denominator n comes to the next integer. Larger blocks divide.
    /// </summary>
    public readonly struct BlockAverage
    {
        private const int MaxReciprocalCount = 4095;
        private readonly Vector128<float> _half;
        private readonly Vector128<float> _scale;

        public BlockAverage(int count)
        {
            ArgumentOutOfRangeException.ThrowIfLessThan(count, 1);
            Count = count;
            _half = Vector128.Create((float)(count / 2));
            _scale = Vector128.Create(1f / count * (1f + (1f / (1 << 22))));
        }

        /// <summary>The block's pixel count (0 for the default instance, which averages nothing).</summary>
        public int Count { get; }

        /// <summary>The four averages of <paramref name="sums"/> as the bytes of one pixel, the first channel lowest.</summary>
        public uint Pack(Vector128<uint> sums)
        {
            Vector128<int> averages;
            if (Count <= MaxReciprocalCount)
            {
                averages = Vector128.ConvertToInt32(Vector128.Floor((Vector128.ConvertToSingle(sums.AsInt32()) + _half) * _scale));
            }
            else
            {
                uint half = (uint)(Count / 2), count = (uint)Count;
                averages = Vector128.Create(
                    (int)((sums.GetElement(0) + half) / count), (int)((sums.GetElement(1) + half) / count),
                    (int)((sums.GetElement(2) + half) / count), (int)((sums.GetElement(3) + half) / count));
            }

            var words = Vector128.Narrow(averages, averages).AsUInt16();
            return Vector128.Narrow(words, words).AsUInt32().ToScalar();
        }
    }
}

using System.Buffers;
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
            var divider = default(BlockDivider);
            for (int oy = 0; oy < outH; oy++)
            {
                columnSums.Clear();
                int ys = y0 + (oy * ky), ye = Math.Min(ys + ky, y1);
                for (int y = ys; y < ye; y++)
                    AddRow(src.Slice((y * srcStride) + (x0 * 4), inW * 4), columnSums);

                var outRow = dst.Slice(oy * dstStride, outW * 4);
                uint rows = (uint)(ye - ys);
                for (int ox = 0; ox < outW; ox++)
                {
                    int xs = ox * kx, xe = Math.Min(xs + kx, inW);
                    var block = Vector128<uint>.Zero;
                    for (int x = xs; x < xe; x++)
                        block += Vector128.LoadUnsafe(ref sums, (nuint)(x * 4));
                    divider.Use(rows * (uint)(xe - xs));
                    int o = ox * 4;
                    outRow[o] = divider.Average(block.GetElement(0));
                    outRow[o + 1] = divider.Average(block.GetElement(1));
                    outRow[o + 2] = divider.Average(block.GetElement(2));
                    outRow[o + 3] = divider.Average(block.GetElement(3));
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
    /// Rounded averages of a block's sums, by a multiply and a shift instead of a division per channel. With
    /// m = floor(2^32 / n) + 1, floor(x * m / 2^32) is floor(x / n) for every x below 2^32 / n; the sums here stay
    /// below 256 n, so that holds for blocks of fewer than 4096 pixels, and larger ones divide.
    /// </summary>
    private struct BlockDivider
    {
        private uint _count;
        private uint _half;
        private ulong _multiplier;

        public void Use(uint count)
        {
            if (count == _count)
                return;
            _count = count;
            _half = count / 2;
            _multiplier = count < 4096 ? (1UL << 32) / count + 1 : 0;
        }

        public readonly byte Average(uint sum) => _multiplier != 0
            ? (byte)(((sum + _half) * _multiplier) >> 32)
            : (byte)((sum + _half) / _count);
    }
}

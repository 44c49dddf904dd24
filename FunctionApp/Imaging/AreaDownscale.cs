using System.Buffers;
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
        var rented = ArrayPool<uint>.Shared.Rent(outW * 4);
        try
        {
            var sums = rented.AsSpan(0, outW * 4);
            for (int oy = 0; oy < outH; oy++)
            {
                sums.Clear();
                int ys = y0 + (oy * ky), ye = Math.Min(ys + ky, y1);
                for (int y = ys; y < ye; y++)
                {
                    var row = src.Slice((y * srcStride) + (x0 * 4), inW * 4);
                    for (int ox = 0, x = 0; ox < outW; ox++)
                    {
                        int xe = Math.Min(x + kx, inW);
                        uint r = 0, g = 0, b = 0, a = 0;
                        for (; x < xe; x++)
                        {
                            int p = x * 4;
                            r += row[p];
                            g += row[p + 1];
                            b += row[p + 2];
                            a += row[p + 3];
                        }

                        int s = ox * 4;
                        sums[s] += r;
                        sums[s + 1] += g;
                        sums[s + 2] += b;
                        sums[s + 3] += a;
                    }
                }

                var outRow = dst.Slice(oy * dstStride, outW * 4);
                uint rows = (uint)(ye - ys);
                for (int ox = 0; ox < outW; ox++)
                {
                    uint count = rows * (uint)(Math.Min((ox + 1) * kx, inW) - (ox * kx));
                    uint half = count / 2;
                    int s = ox * 4;
                    outRow[s] = (byte)((sums[s] + half) / count);
                    outRow[s + 1] = (byte)((sums[s + 1] + half) / count);
                    outRow[s + 2] = (byte)((sums[s + 2] + half) / count);
                    outRow[s + 3] = (byte)((sums[s + 3] + half) / count);
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
}

using FunctionApp.Imaging;
using FunctionApp.Tests.Support;
using System.Runtime.Intrinsics;
using Microsoft.Extensions.Options;
using SkiaSharp;

namespace FunctionApp.Tests.Imaging;

/// <summary>The block-averaging step of a strong downscale, alone and through the preprocessor.</summary>
public class AreaDownscaleTests
{
    private static readonly ImagePreprocessor Preprocessor = new(new ImageDecoder(Options.Create(new ImageLimitsOptions())));

    private static PreprocessingSpec Spec(int size) => new()
    {
        Width = size,
        Height = size,
        ChannelOrder = ChannelOrder.Rgb,
        PixelScale = PixelScale.Byte,
        Layout = TensorLayout.Nchw,
        Mean = [0, 0, 0],
        Std = [1, 1, 1],
        Resize = ResizeMode.Stretch,
    };

    [Fact]
    public void Preprocess_OnePixelStripesFarAboveTheOutputSize_AverageToGreyWithoutAliasing()
    {
        // Alternating black and white columns, 8x the output size: every output pixel covers as much black as white.
        var stripes = Images.Bmp(256, 256, (x, _) => x % 2 == 0 ? SKColors.Black : SKColors.White);

        var tensor = Preprocessor.Preprocess(stripes, Spec(32), out _);

        Assert.All(tensor, v => Assert.Equal(127.5f, v, 2f));
    }

    [Fact]
    public void Reduce_AveragesWholeBlocksByIntegerFactors()
    {
        // 6x4 to at least 3x2: factor 2 each way. Block (0,0) holds 0, 10, 20, 30 in red: average 15.
        using var source = new SKBitmap(new SKImageInfo(6, 4, SKColorType.Rgba8888, SKAlphaType.Premul));
        for (int y = 0; y < 4; y++)
        {
            for (int x = 0; x < 6; x++)
                source.SetPixel(x, y, new SKColor((byte)((x * 10) + (y * 20)), 100, 200));
        }

        using var reduced = AreaDownscale.Reduce(source, new SKRect(0, 0, 6, 4), 3, 2, out var region);

        Assert.NotNull(reduced);
        Assert.Equal((3, 2), (reduced.Width, reduced.Height));
        Assert.Equal(new SKRect(0, 0, 3, 2), region);
        Assert.Equal(15, reduced.GetPixel(0, 0).Red);
        Assert.Equal(55, reduced.GetPixel(2, 0).Red);
        Assert.Equal(95, reduced.GetPixel(2, 1).Red);
        Assert.Equal(new SKColor(95, 100, 200), reduced.GetPixel(2, 1));
    }

    [Fact]
    public void Reduce_MapsACroppedRegionIntoTheReducedPixels()
    {
        using var source = new SKBitmap(new SKImageInfo(100, 40, SKColorType.Rgba8888, SKAlphaType.Premul));

        using var reduced = AreaDownscale.Reduce(source, new SKRect(30, 0, 70, 40), 10, 10, out var region);

        // Factor 4 each way over the 40x40 middle: 10x10 pixels that are all of the region.
        Assert.NotNull(reduced);
        Assert.Equal((10, 10), (reduced.Width, reduced.Height));
        Assert.Equal(new SKRect(0, 0, 10, 10), region);
    }

    [Fact]
    public void Reduce_LessThanTwiceTheOutput_LeavesTheImageToTheBilinearStep()
    {
        using var source = new SKBitmap(new SKImageInfo(300, 300, SKColorType.Rgba8888, SKAlphaType.Premul));

        var reduced = AreaDownscale.Reduce(source, new SKRect(0, 0, 300, 300), 224, 224, out var region);

        Assert.Null(reduced);
        Assert.Equal(new SKRect(0, 0, 300, 300), region);
    }

    [Fact]
    public void Preprocess_StrongDownscaleOfHalves_KeepsEachSideItsColour()
    {
        var halves = Images.Halves(900, 300, SKColors.Red, SKColors.Blue);

        var tensor = Preprocessor.Preprocess(halves, Spec(20), out _);

        // Column 2 is well inside the red half, column 17 inside the blue one.
        for (int y = 0; y < 20; y++)
        {
            Assert.Equal(255f, tensor[(y * 20) + 2], 1f);
            Assert.Equal(0f, tensor[(2 * 400) + (y * 20) + 2], 1f);
            Assert.Equal(0f, tensor[(y * 20) + 17], 1f);
            Assert.Equal(255f, tensor[(2 * 400) + (y * 20) + 17], 1f);
        }
    }

    [Theory]
    [InlineData(741, 500, 224, 224)]   // factors 3 x 2, a partial block at the right and bottom edges
    [InlineData(1000, 997, 10, 10)]    // blocks of 100 x 99 pixels, the sums in the millions
    [InlineData(33, 1000, 16, 7)]      // factors 2 x 142, a row length that is no multiple of the vector width
    public void Reduce_RandomPixels_EqualsTheRoundedAverageOfEachBlock(int width, int height, int outWidth, int outHeight)
    {
        var random = new Random(width + height);
        using var source = new SKBitmap(new SKImageInfo(width, height, SKColorType.Rgba8888, SKAlphaType.Premul));
        random.NextBytes(source.GetPixelSpan());

        using var reduced = AreaDownscale.Reduce(source, new SKRect(0, 0, width, height), outWidth, outHeight, out _);

        Assert.NotNull(reduced);
        int kx = width / outWidth, ky = height / outHeight;
        var pixels = source.GetPixelSpan();
        var actual = reduced.GetPixelSpan();
        for (int oy = 0; oy < reduced.Height; oy++)
        {
            for (int ox = 0; ox < reduced.Width; ox++)
            {
                for (int c = 0; c < 4; c++)
                {
                    long sum = 0, count = 0;
                    for (int y = oy * ky; y < Math.Min((oy + 1) * ky, height); y++)
                    {
                        for (int x = ox * kx; x < Math.Min((ox + 1) * kx, width); x++, count++)
                            sum += pixels[(((y * width) + x) * 4) + c];
                    }

                    Assert.Equal((sum + (count / 2)) / count, actual[(((oy * reduced.Width) + ox) * 4) + c]);
                }
            }
        }
    }

    /// <summary>
    /// Every block size the reciprocal serves, and sizes above it that divide: for each average k, the lowest and the
    /// highest sums that round to it. The float product grows with the sum, so those two bound every sum between.
    /// </summary>
    [Fact]
    public void BlockAverage_EverySumOfEveryBlockSize_RoundsAsIntegerDivisionDoes()
    {
        int checkedSums = 0;
        string? firstWrong = null;
        foreach (int count in Enumerable.Range(1, 4100).Concat([10_000, 65_536, 1_000_000]))
        {
            var average = new AreaDownscale.BlockAverage(count);
            uint half = (uint)(count / 2), max = 255u * (uint)count;
            for (uint k = 0; k < 256; k++)
            {
                uint low = (uint)Math.Max(0L, (k * (long)count) - half), high = Math.Min(max, (k * (uint)count) + (uint)count - 1 - half);
                if (low > high)
                    continue;
                uint mid = low + ((high - low) / 2);
                uint packed = average.Pack(Vector128.Create(low, high, mid, Math.Min(low + 1, high)));
                uint[] sums = [low, high, mid, Math.Min(low + 1, high)];
                for (int c = 0; c < 4; c++, checkedSums++)
                {
                    uint expected = (sums[c] + half) / (uint)count, actual = (packed >> (8 * c)) & 0xFF;
                    if (expected != actual)
                        firstWrong ??= $"block of {count}, sum {sums[c]}: {actual}, not {expected}";
                }
            }
        }

        Assert.Null(firstWrong);
        Assert.True(checkedSums > 4_000_000);
    }
}

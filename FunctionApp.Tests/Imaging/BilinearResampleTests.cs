using FunctionApp.Imaging;
using SkiaSharp;

namespace FunctionApp.Tests.Imaging;

/// <summary>
/// The bilinear step against SkiaSharp's canvas drawing the same region over white with bilinear sampling (what it
/// replaced), within 1 level of 255 per channel: both work in 8-bit fixed point and round differently.
/// </summary>
public class BilinearResampleTests
{
    private const int Tolerance = 1;

    public static TheoryData<int, int, float, float, float, float, int, int> Cases => new()
    {
        // source size, region, output size
        { 384, 288, 0, 0, 384, 288, 224, 224 },        // a JPEG decoded at 3/8 scale, stretched to the model's size
        { 80, 60, 0, 0, 80, 60, 224, 224 },            // enlarged
        { 300, 200, 50.25f, 0, 250.75f, 200, 224, 224 }, // a centre crop with fractional edges
        { 1, 1, 0, 0, 1, 1, 7, 5 },                    // a single pixel
        { 97, 131, 0, 0, 97, 131, 61, 43 },            // odd sizes, a row length that is no multiple of the vector width
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void Resample_OpaquePhotoLikePixels_MatchesTheCanvasWithinTolerance(int sw, int sh, float left, float top, float right, float bottom, int width, int height)
    {
        using var source = Noise(sw, sh, SKAlphaType.Opaque, seed: sw + sh);
        var region = new SKRect(left, top, right, bottom);

        using var expected = CanvasDraw(source, region, width, height);
        using var actual = Resample(source, region, width, height);

        AssertClose(expected, actual);
    }

    [Fact]
    public void Resample_TranslucentPixels_CompositeOverWhiteLikeTheCanvas()
    {
        using var source = Noise(120, 90, SKAlphaType.Premul, seed: 7);
        var region = new SKRect(0, 0, 120, 90);

        using var expected = CanvasDraw(source, region, 64, 48);
        using var actual = Resample(source, region, 64, 48);

        AssertClose(expected, actual);
        Assert.All(Enumerable.Range(0, 64 * 48), i => Assert.Equal(255, actual.GetPixel(i % 64, i / 64).Alpha));
    }

    [Fact]
    public void Resample_FullyTransparentPixels_AreWhite()
    {
        using var source = new SKBitmap(new SKImageInfo(10, 10, SKColorType.Rgba8888, SKAlphaType.Premul));
        source.Erase(SKColors.Transparent);
        using var actual = Resample(source, new SKRect(0, 0, 10, 10), 4, 4);

        Assert.Equal(SKColors.White, actual.GetPixel(2, 3));
    }

    [Fact]
    public void Resample_ExactlyHalfway_AveragesTheTwoNeighbours()
    {
        // 2x1 to 1x1: the output centre falls halfway between the two pixels.
        using var source = new SKBitmap(new SKImageInfo(2, 1, SKColorType.Rgba8888, SKAlphaType.Opaque));
        source.SetPixel(0, 0, new SKColor(0, 100, 200));
        source.SetPixel(1, 0, new SKColor(100, 200, 0));

        using var actual = Resample(source, new SKRect(0, 0, 2, 1), 1, 1);

        Assert.Equal(new SKColor(50, 150, 100), actual.GetPixel(0, 0));
    }

    [Fact]
    public void Resample_SourceSmallerThanItsSize_IsRefused()
    {
        var pixels = new byte[(10 * 4) - 1];
        var target = new byte[4 * 4];

        Assert.Throws<ArgumentException>(() => BilinearResample.Resample(pixels, 10, 1, 40, new SKRect(0, 0, 10, 1), target, 2, 2, 8));
    }

    private static SKBitmap Resample(SKBitmap source, SKRect region, int width, int height)
    {
        var target = new SKBitmap(new SKImageInfo(width, height, SKColorType.Rgba8888, SKAlphaType.Opaque));
        BilinearResample.Resample(source, region, target);
        return target;
    }

    private static SKBitmap CanvasDraw(SKBitmap source, SKRect region, int width, int height)
    {
        var target = new SKBitmap(new SKImageInfo(width, height, SKColorType.Rgba8888, SKAlphaType.Opaque));
        using var image = SKImage.FromBitmap(source);
        using var canvas = new SKCanvas(target);
        canvas.Clear(SKColors.White);
        canvas.DrawImage(image, region, new SKRect(0, 0, width, height), new SKSamplingOptions(SKFilterMode.Linear, SKMipmapMode.None));
        canvas.Flush();
        return target;
    }

    /// <summary>Smooth gradients with noise on top, like a photo's pixels; translucent ones are premultiplied.</summary>
    private static SKBitmap Noise(int width, int height, SKAlphaType alphaType, int seed)
    {
        var random = new Random(seed);
        var bitmap = new SKBitmap(new SKImageInfo(width, height, SKColorType.Rgba8888, alphaType));
        var pixels = bitmap.GetPixelSpan();
        for (int y = 0; y < height; y++)
        {
            for (int x = 0; x < width; x++)
            {
                int i = ((y * width) + x) * 4;
                byte a = alphaType == SKAlphaType.Opaque ? (byte)255 : (byte)random.Next(256);
                for (int c = 0; c < 3; c++)
                {
                    int value = Math.Clamp((((x * (c + 1)) + (y * (3 - c))) % 256) + random.Next(-20, 21), 0, 255);
                    pixels[i + c] = (byte)((value * a) / 255);
                }

                pixels[i + 3] = a;
            }
        }

        return bitmap;
    }

    private static void AssertClose(SKBitmap expected, SKBitmap actual)
    {
        Assert.Equal((expected.Width, expected.Height), (actual.Width, actual.Height));
        var e = expected.GetPixelSpan();
        var a = actual.GetPixelSpan();
        int worst = 0, at = -1;
        for (int i = 0; i < e.Length; i++)
        {
            int difference = Math.Abs(e[i] - a[i]);
            if (difference > worst)
            {
                worst = difference;
                at = i;
            }
        }

        Assert.True(worst <= Tolerance, $"Channel {at % 4} of pixel ({at / 4 % actual.Width}, {at / 4 / actual.Width}) differs by {worst}.");
    }
}

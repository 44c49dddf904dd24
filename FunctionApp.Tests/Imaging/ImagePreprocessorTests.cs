using FunctionApp.Imaging;
using FunctionApp.Tests.Support;
using Microsoft.Extensions.Options;
using SkiaSharp;

namespace FunctionApp.Tests.Imaging;

/// <summary>
/// Tensor values are checked against values computed by hand from known pixels. Tolerances: 1e-4 for
/// exact colours (only float rounding), 3/255 per pixel and 1/255 on average for a resize compared
/// with ImageMagick's triangle-filter reference, and 8/255 where JPEG compression sits in between.
/// </summary>
public class ImagePreprocessorTests
{
    private static readonly ImagePreprocessor Preprocessor = new(new ImageDecoder(Options.Create(new ImageLimitsOptions())));

    private static PreprocessingSpec Spec(int size = 4, ChannelOrder order = ChannelOrder.Rgb, PixelScale scale = PixelScale.Unit, TensorLayout layout = TensorLayout.Nchw, float[]? mean = null, float[]? std = null, ResizeMode resize = ResizeMode.Stretch, int? shorterSide = null) => new()
    {
        Width = size,
        Height = size,
        ChannelOrder = order,
        PixelScale = scale,
        Layout = layout,
        Mean = mean ?? [0, 0, 0],
        Std = std ?? [1, 1, 1],
        Resize = resize,
        ShorterSide = shorterSide,
    };

    private static float[] Channel(float[] tensor, int channel, int size) => tensor.AsSpan(channel * size * size, size * size).ToArray();

    [Fact]
    public void Preprocess_SolidColourRgbUnit_GivesPixelOver255()
    {
        var tensor = Preprocessor.Preprocess(Images.Solid(10, 6, new SKColor(255, 128, 0)), Spec(), out _);

        Assert.All(Channel(tensor, 0, 4), v => Assert.Equal(1f, v, 1e-4f));
        Assert.All(Channel(tensor, 1, 4), v => Assert.Equal(128f / 255f, v, 1e-4f));
        Assert.All(Channel(tensor, 2, 4), v => Assert.Equal(0f, v, 1e-4f));
    }

    [Theory]
    [InlineData(TensorLayout.Nchw)]
    [InlineData(TensorLayout.Nhwc)]
    public void Preprocess_OneChannel_WritesOnePlaneOfLuma(TensorLayout layout)
    {
        // BT.601 luma of (200, 100, 50): 0.299*200 + 0.587*100 + 0.114*50 = 124.2, within a byte's rounding.
        var spec = Spec(scale: PixelScale.Byte, layout: layout, mean: [20], std: [2]) with { Channels = 1 };

        var tensor = Preprocessor.Preprocess(Images.Solid(10, 6, new SKColor(200, 100, 50)), spec, out _);

        Assert.Equal(16, tensor.Length);
        Assert.All(tensor, v => Assert.Equal((124.2f - 20f) / 2f, v, 0.6f));
    }

    [Fact]
    public void Validate_OneChannelWithThreeDifferentMeans_SaysHowManyItNeeds()
    {
        var spec = Spec(mean: [0.4f, 0.5f, 0.6f]) with { Channels = 1 };

        Assert.Equal(["preprocessing.mean must have 1 values, one per channel, or one value for all (got 3)"], spec.Validate());
        Assert.Empty((Spec() with { Channels = 1 }).Validate()); // the default [0,0,0] and [1,1,1] hold one value each
    }

    [Fact]
    public void Preprocess_BgrByteScaleWithMeanAndStd_NormalisesPerTensorChannel()
    {
        // Tensor channel 0 is blue: (50 - 10) / 2 = 20; channel 1 green: (100 - 20) / 4 = 20; channel 2 red: (200 - 40) / 8 = 20.
        var spec = Spec(order: ChannelOrder.Bgr, scale: PixelScale.Byte, mean: [10, 20, 40], std: [2, 4, 8]);

        var tensor = Preprocessor.Preprocess(Images.Solid(5, 5, new SKColor(200, 100, 50)), spec, out _);

        Assert.All(tensor, v => Assert.Equal(20f, v, 1e-4f));
    }

    [Fact]
    public void Preprocess_Nhwc_InterleavesChannels()
    {
        var tensor = Preprocessor.Preprocess(Images.Solid(4, 4, new SKColor(255, 0, 51)), Spec(layout: TensorLayout.Nhwc), out _);

        for (int i = 0; i < 16; i++)
        {
            Assert.Equal(1f, tensor[i * 3], 1e-4f);
            Assert.Equal(0f, tensor[(i * 3) + 1], 1e-4f);
            Assert.Equal(0.2f, tensor[(i * 3) + 2], 1e-4f);
        }
    }

    [Fact]
    public void Preprocess_StretchResize_MatchesImageMagickTriangleReference()
    {
        var ramp = File.ReadAllBytes(Images.TestData("images", "ramp.png"));
        using var reference = SKBitmap.Decode(Images.TestData("images", "ramp-16x4.png"));
        var spec = Spec() with { Width = 16, Height = 4 };

        var tensor = Preprocessor.Preprocess(ramp, spec, out _);

        // Edge pixels differ most (the filters treat the border differently): at most 3/255 per pixel, 1/255 on average.
        double total = 0;
        for (int y = 0; y < 4; y++)
        {
            for (int x = 0; x < 16; x++)
            {
                float expected = reference.GetPixel(x, y).Red / 255f;
                float difference = Math.Abs(tensor[(y * 16) + x] - expected);
                total += difference;
                Assert.True(difference <= 3f / 255f, $"pixel ({x},{y}): {tensor[(y * 16) + x] * 255:F1} vs reference {expected * 255:F1}");
            }
        }

        Assert.True(total / 64 <= 1f / 255f, $"mean difference {total / 64 * 255:F2}/255");
    }

    [Fact]
    public void Preprocess_CenterCrop_KeepsTheMiddleAndDropsTheSides()
    {
        // 30x10: red | green | blue thirds. Shorter side 10 -> 10, crop 10x10 from the centre = all green.
        var image = Images.Draw(30, 10, c =>
        {
            using var paint = new SKPaint { Color = SKColors.Red };
            c.DrawRect(0, 0, 10, 10, paint);
            paint.Color = new SKColor(0, 255, 0);
            c.DrawRect(10, 0, 10, 10, paint);
            paint.Color = SKColors.Blue;
            c.DrawRect(20, 0, 10, 10, paint);
        });

        var tensor = Preprocessor.Preprocess(image, Spec(size: 4, resize: ResizeMode.CenterCrop, shorterSide: 4), out _);

        Assert.All(Channel(tensor, 0, 4), v => Assert.Equal(0f, v, 0.02f));
        Assert.All(Channel(tensor, 1, 4), v => Assert.Equal(1f, v, 0.02f));
        Assert.All(Channel(tensor, 2, 4), v => Assert.Equal(0f, v, 0.02f));
    }

    [Fact]
    public void Preprocess_ExifRotatedJpeg_IsUprightBeforeResize()
    {
        var jpeg = Images.WithExifOrientation(Images.Halves(64, 32, SKColors.Red, SKColors.Blue, SKEncodedImageFormat.Jpeg), 6);

        var tensor = Preprocessor.Preprocess(jpeg, Spec(size: 4), out _);

        // Upright, the red half is on top: rows 0-1 red, rows 2-3 blue.
        var red = Channel(tensor, 0, 4);
        var blue = Channel(tensor, 2, 4);
        for (int x = 0; x < 4; x++)
        {
            Assert.True(red[x] > 0.85f && blue[x] < 0.15f, $"top row pixel {x}: r={red[x]} b={blue[x]}");
            Assert.True(blue[12 + x] > 0.85f && red[12 + x] < 0.15f, $"bottom row pixel {x}: r={red[12 + x]} b={blue[12 + x]}");
        }
    }

    [Fact]
    public void Preprocess_TransparentPixels_AreCompositedOverWhite()
    {
        // Fully transparent left half, opaque black right half.
        var image = Images.Draw(8, 8, c =>
        {
            using var paint = new SKPaint { Color = SKColors.Black };
            c.DrawRect(4, 0, 4, 8, paint);
        });

        var tensor = Preprocessor.Preprocess(image, Spec(size: 8), out _);

        var red = Channel(tensor, 0, 8);
        Assert.Equal(1f, red[0], 1e-4f);
        Assert.Equal(0f, red[7], 1e-4f);
    }

    [Fact]
    public void Preprocess_GrayscalePng_FillsEveryChannelAlike()
    {
        var gray = Images.Draw(4, 4, c => c.Clear(new SKColor(100, 100, 100)), colorType: SKColorType.Gray8, alphaType: SKAlphaType.Opaque);

        var tensor = Preprocessor.Preprocess(gray, Spec(), out _);

        Assert.All(tensor, v => Assert.Equal(100f / 255f, v, 1e-4f));
    }

    [Fact]
    public void Preprocess_PalettePng_DecodesItsColours()
    {
        var png = File.ReadAllBytes(Images.TestData("images", "palette.png"));

        var tensor = Preprocessor.Preprocess(png, Spec() with { Width = 2, Height = 1 }, out _);

        // Left half green, right half blue.
        Assert.Equal([0f, 0f], [tensor[0], tensor[1]]);
        Assert.Equal(1f, tensor[2], 0.01f);
        Assert.Equal(1f, tensor[5], 0.01f);
    }

    [Fact]
    public void Preprocess_AnimatedGif_UsesTheFirstFrame()
    {
        var gif = File.ReadAllBytes(Images.TestData("images", "two-frames.gif"));

        var tensor = Preprocessor.Preprocess(gif, Spec(), out _);

        Assert.All(Channel(tensor, 0, 4), v => Assert.Equal(1f, v, 1e-4f));
        Assert.All(Channel(tensor, 2, 4), v => Assert.Equal(0f, v, 1e-4f));
    }

    [Fact]
    public void Preprocess_Bmp_DecodesItsPixels()
    {
        var bmp = Images.Bmp(6, 6, (_, _) => new SKColor(10, 20, 30));

        var tensor = Preprocessor.Preprocess(bmp, Spec(scale: PixelScale.Byte), out _);

        Assert.All(Channel(tensor, 0, 4), v => Assert.Equal(10f, v, 1e-3f));
        Assert.All(Channel(tensor, 1, 4), v => Assert.Equal(20f, v, 1e-3f));
        Assert.All(Channel(tensor, 2, 4), v => Assert.Equal(30f, v, 1e-3f));
    }

    [Theory]
    [InlineData(SKEncodedImageFormat.Webp)]
    [InlineData(SKEncodedImageFormat.Jpeg)]
    public void Preprocess_LossyFormats_AreCloseToTheSourceColour(SKEncodedImageFormat format)
    {
        var image = Images.Solid(32, 32, new SKColor(40, 160, 220), format, 95);

        var tensor = Preprocessor.Preprocess(image, Spec(scale: PixelScale.Byte), out _);

        Assert.All(Channel(tensor, 0, 4), v => Assert.Equal(40f, v, 8f));
        Assert.All(Channel(tensor, 1, 4), v => Assert.Equal(160f, v, 8f));
        Assert.All(Channel(tensor, 2, 4), v => Assert.Equal(220f, v, 8f));
    }

    [Fact]
    public void Preprocess_ReportsDecodeAndPreprocessTimes()
    {
        Preprocessor.Preprocess(Images.Solid(64, 64, SKColors.Red), Spec(), out var timings);

        Assert.True(timings.Decode > TimeSpan.Zero);
        Assert.True(timings.Preprocess > TimeSpan.Zero);
    }
}

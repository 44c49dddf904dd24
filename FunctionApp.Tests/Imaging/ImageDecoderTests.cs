using FunctionApp.Imaging;
using FunctionApp.Tests.Support;
using Microsoft.Extensions.Options;
using SkiaSharp;

namespace FunctionApp.Tests.Imaging;

public class ImageDecoderTests
{
    private static ImageDecoder Decoder(long maxBytes = 1_000_000, long maxPixels = 1_000_000) =>
        new(Options.Create(new ImageLimitsOptions { MaxBytes = maxBytes, MaxPixels = maxPixels }));

    [Fact]
    public void Open_OverByteLimit_NamesTheLimitAndItsValue()
    {
        var bytes = Images.Solid(64, 64, SKColors.Red, SKEncodedImageFormat.Jpeg, 100);

        var error = Assert.Throws<ImageInputException>(() => Decoder(maxBytes: 100).Open(bytes));

        Assert.Equal(ImageInputError.TooLarge, error.Error);
        Assert.Contains("100 bytes", error.Message);
        Assert.Contains("ImageLimits:MaxBytes", error.Message);
    }

    [Fact]
    public void Open_OverPixelLimit_RejectsFromTheHeaderAlone()
    {
        // 4000x3000 of one colour compresses to a few kilobytes: a small decompression bomb.
        var bytes = Images.Solid(4000, 3000, SKColors.Blue);
        Assert.True(bytes.Length < 200_000);

        var error = Assert.Throws<ImageInputException>(() => Decoder(maxBytes: 1_000_000, maxPixels: 1_000_000).Open(bytes));

        Assert.Equal(ImageInputError.TooManyPixels, error.Error);
        Assert.Contains("4000x3000", error.Message);
        Assert.Contains("1,000,000 pixels", error.Message);
    }

    [Fact]
    public void Open_NotAnImage_IsUnsupported()
    {
        var error = Assert.Throws<ImageInputException>(() => Decoder().Open("%PDF-1.7 not an image"u8));

        Assert.Equal(ImageInputError.UnsupportedFormat, error.Error);
        Assert.Contains("JPEG, PNG, BMP, GIF or WebP", error.Message);
    }

    [Fact]
    public void Open_Empty_IsRejected()
    {
        var error = Assert.Throws<ImageInputException>(() => Decoder().Open([]));

        Assert.Equal(ImageInputError.Empty, error.Error);
    }

    [Fact]
    public void Open_PngSignatureThenGarbage_IsUndecodable()
    {
        byte[] bytes = [0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A, 1, 2, 3, 4, 5, 6, 7, 8, 9];

        var error = Assert.Throws<ImageInputException>(() => Decoder().Open(bytes));

        Assert.Equal(ImageInputError.Undecodable, error.Error);
        Assert.Contains("image/png", error.Message);
    }

    [Fact]
    public void Decode_TruncatedJpeg_IsUndecodable()
    {
        var full = Images.Draw(256, 256, c =>
        {
            using var paint = new SKPaint { Shader = SKShader.CreateLinearGradient(new SKPoint(0, 0), new SKPoint(256, 256), [SKColors.Red, SKColors.Blue], SKShaderTileMode.Clamp) };
            c.DrawRect(0, 0, 256, 256, paint);
        }, SKEncodedImageFormat.Jpeg, 90);
        var truncated = full[..(full.Length / 2)];

        var error = Assert.Throws<ImageInputException>(() =>
        {
            using var image = Decoder().Open(truncated);
            using var _ = image.Decode(256, 256);
        });

        Assert.Equal(ImageInputError.Undecodable, error.Error);
        Assert.Contains("truncated", error.Message);
    }

    [Fact]
    public void Decode_LargeJpeg_ScalesInTheDecoderButCoversTheRequestedSize()
    {
        var bytes = Images.Solid(1024, 768, SKColors.Green, SKEncodedImageFormat.Jpeg, 90);
        using var image = Decoder().Open(bytes);

        using var decoded = image.Decode(224, 224);

        Assert.True(decoded.Width < 1024, $"expected a scaled decode, got {decoded.Width}x{decoded.Height}");
        Assert.True(decoded.Width >= 224 && decoded.Height >= 224, $"decoded {decoded.Width}x{decoded.Height} is smaller than needed");
    }

    [Theory]
    [InlineData(6, 20, 40)] // rotate 90 clockwise
    [InlineData(8, 20, 40)] // rotate 90 counter-clockwise
    [InlineData(3, 40, 20)] // rotate 180
    public void Decode_ExifOrientation_ReturnsUprightDimensions(ushort orientation, int width, int height)
    {
        var jpeg = Images.WithExifOrientation(Images.Halves(40, 20, SKColors.Red, SKColors.Blue, SKEncodedImageFormat.Jpeg), orientation);
        using var image = Decoder().Open(jpeg);

        using var decoded = image.Decode(image.Width, image.Height);

        Assert.Equal((width, height), (image.Width, image.Height));
        Assert.Equal((width, height), (decoded.Width, decoded.Height));
    }

    [Fact]
    public void Decode_Orientation6_PutsTheLeftHalfOnTop()
    {
        // EXIF 6: the stored image must be turned 90 degrees clockwise to be upright, so its left edge becomes the top.
        var jpeg = Images.WithExifOrientation(Images.Halves(40, 20, SKColors.Red, SKColors.Blue, SKEncodedImageFormat.Jpeg), 6);
        using var image = Decoder().Open(jpeg);

        using var decoded = image.Decode(image.Width, image.Height);

        var top = decoded.GetPixel(10, 5);
        var bottom = decoded.GetPixel(10, 35);
        Assert.True(top.Red > 200 && top.Blue < 60, $"top pixel {top}");
        Assert.True(bottom.Blue > 200 && bottom.Red < 60, $"bottom pixel {bottom}");
    }
}

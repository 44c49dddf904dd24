using FunctionApp.Imaging;
using FunctionApp.Tests.Support;
using Microsoft.Extensions.Options;
using SkiaSharp;

namespace FunctionApp.Tests.Imaging;

public class ImageHeaderTests
{
    [Theory]
    [InlineData(SKEncodedImageFormat.Png, ImageFormat.Png)]
    [InlineData(SKEncodedImageFormat.Jpeg, ImageFormat.Jpeg)]
    [InlineData(SKEncodedImageFormat.Webp, ImageFormat.Webp)]
    public void DeclaredSize_OfARealImage_IsItsSize(SKEncodedImageFormat encoding, ImageFormat format)
    {
        var bytes = Images.Solid(123, 45, SKColors.Red, encoding);

        Assert.Equal((123L, 45L), ImageHeader.DeclaredSize(bytes, format));
    }

    [Fact]
    public void DeclaredSize_OfAGif_IsTheSizeItsDecoderSees()
    {
        var bytes = File.ReadAllBytes(Images.TestData("images", "two-frames.gif"));
        using var codec = SKCodec.Create(new SKMemoryStream(bytes));

        Assert.Equal(((long)codec.Info.Width, (long)codec.Info.Height), ImageHeader.DeclaredSize(bytes, ImageFormat.Gif));
    }

    [Fact]
    public void DeclaredSize_OfABmp_IsItsSize()
    {
        var bytes = Images.Bmp(31, 17, (_, _) => SKColors.Blue);

        Assert.Equal((31L, 17L), ImageHeader.DeclaredSize(bytes, ImageFormat.Bmp));
    }

    [Fact]
    public void Open_HeaderAloneDeclaringTooManyPixels_IsRefusedBeforeAnyDecoder()
    {
        // A PNG signature and an IHDR declaring 60000x60000, and nothing after it.
        var header = Images.Solid(8, 8, SKColors.Red)[..33];
        System.Buffers.Binary.BinaryPrimitives.WriteInt32BigEndian(header.AsSpan(16), 60_000);
        System.Buffers.Binary.BinaryPrimitives.WriteInt32BigEndian(header.AsSpan(20), 60_000);
        var decoder = new ImageDecoder(Options.Create(new ImageLimitsOptions()));

        var refused = Assert.Throws<ImageInputException>(() => decoder.Open(header));

        Assert.Equal(ImageInputError.TooManyPixels, refused.Error);
        Assert.Contains("60000x60000", refused.Message);
    }
}

using FunctionApp.Imaging;
using FunctionApp.Tests.Support;
using SkiaSharp;

namespace FunctionApp.Tests.Imaging;

public class ImageFormatSnifferTests
{
    [Theory]
    [InlineData(SKEncodedImageFormat.Png, ImageFormat.Png)]
    [InlineData(SKEncodedImageFormat.Jpeg, ImageFormat.Jpeg)]
    [InlineData(SKEncodedImageFormat.Webp, ImageFormat.Webp)]
    public void Detect_EncodedImage_ReturnsItsFormat(SKEncodedImageFormat encoded, ImageFormat expected)
    {
        var bytes = Images.Solid(4, 4, SKColors.Red, encoded);

        Assert.Equal(expected, ImageFormatSniffer.Detect(bytes));
    }

    [Fact]
    public void Detect_BmpAndGif_AreRecognised()
    {
        Assert.Equal(ImageFormat.Bmp, ImageFormatSniffer.Detect(Images.Bmp(2, 2, (_, _) => SKColors.Red)));
        Assert.Equal(ImageFormat.Gif, ImageFormatSniffer.Detect(File.ReadAllBytes(Images.TestData("images", "two-frames.gif"))));
    }

    [Theory]
    [InlineData("hello, world")]
    [InlineData("RIFF0000WAVE")]
    [InlineData("")]
    public void Detect_OtherData_IsUnknown(string text)
    {
        Assert.Equal(ImageFormat.Unknown, ImageFormatSniffer.Detect(System.Text.Encoding.ASCII.GetBytes(text)));
    }
}

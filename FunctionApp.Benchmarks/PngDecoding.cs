using BenchmarkDotNet.Attributes;
using FunctionApp.Imaging;
using FunctionApp.Inference;
using Microsoft.Extensions.Options;
using SkiaSharp;

namespace FunctionApp.Benchmarks;

/// <summary>
/// A PNG photo decoded by SkiaSharp's codec against <see cref="PngDecoder"/>, alone (open and decode, as the app
/// does; the image data inflated on this thread, or on a second core as the app does when nothing else is running) and
/// inside the whole preprocessing into the bundled model's 224x224 tensor (one at a time, so inflated on a second
/// core). The photo is a photo-like
/// 741x500 RGB PNG made here, or the file named by <c>PNG_PHOTO</c> (such as the motorcycle photo compare.sh fetches).
/// </summary>
public class PngDecoding
{
    private byte[] _png = null!;
    private PreprocessingSpec _spec = null!;
    private float[] _tensor = null!;
    private ImageDecoder _skia = null!;
    private ImageDecoder _managed = null!;
    private ImagePreprocessor _skiaPreprocessor = null!;
    private ImagePreprocessor _managedPreprocessor = null!;

    [GlobalSetup]
    public void Setup()
    {
        var photo = Environment.GetEnvironmentVariable("PNG_PHOTO");
        _png = string.IsNullOrEmpty(photo) ? BundledModel.PhotoPng(741, 500) : File.ReadAllBytes(photo);
        _spec = ModelPackage.Open(BundledModel.Directory).Manifest.Preprocessing;
        _tensor = new float[_spec.TensorLength];
        var limits = Options.Create(new ImageLimitsOptions());
        _skia = new ImageDecoder(limits) { ManagedPng = false };
        _managed = new ImageDecoder(limits) { ManagedPng = true };
        _skiaPreprocessor = new ImagePreprocessor(_skia);
        _managedPreprocessor = new ImagePreprocessor(_managed);

        // Both paths give the same pixels, or the comparison means nothing.
        using var a = _skia.Open(_png);
        using var b = _managed.Open(_png);
        using var fromSkia = a.Decode(a.Width, a.Height);
        using var fromManaged = b.Decode(b.Width, b.Height);
        if (PngDecoder.TryRead(_png) is null || !fromSkia.GetPixelSpan().SequenceEqual(fromManaged.GetPixelSpan()))
            throw new InvalidOperationException("The managed decoder does not take this PNG, or decodes it differently.");
    }

    [Benchmark(Baseline = true, Description = "Open + decode, SkiaSharp codec")]
    public int DecodeSkia() => Decode(_skia);

    [Benchmark(Description = "Open + decode, PngDecoder")]
    public int DecodeManaged() => DecodeWithPngDecoder(inflateAside: false);

    [Benchmark(Description = "Open + decode, PngDecoder inflating on a second core")]
    public int DecodeManagedAside() => DecodeWithPngDecoder(inflateAside: true);

    [Benchmark(Description = "Preprocess to 224x224, SkiaSharp codec")]
    public float PreprocessSkia()
    {
        _skiaPreprocessor.Preprocess(_png, _spec, _tensor, out _);
        return _tensor[0];
    }

    [Benchmark(Description = "Preprocess to 224x224, PngDecoder")]
    public float PreprocessManaged()
    {
        _managedPreprocessor.Preprocess(_png, _spec, _tensor, out _);
        return _tensor[0];
    }

    /// <summary>What the app's decoder does with a PNG it takes, with the inflating on this thread or on another.</summary>
    private int DecodeWithPngDecoder(bool inflateAside)
    {
        using var image = _managed.Open(_png);
        using var data = SKData.CreateCopy(_png);
        var png = PngDecoder.TryRead(data.AsSpan())!;
        using var bitmap = new SKBitmap(new SKImageInfo(png.Width, png.Height, SKColorType.Rgba8888, SKAlphaType.Premul));
        PngDecoder.Decode(data, png, bitmap, inflateAside);
        return bitmap.Width;
    }

    private int Decode(ImageDecoder decoder)
    {
        using var image = decoder.Open(_png);
        using var bitmap = image.Decode(image.Width, image.Height);
        return bitmap.Width;
    }
}

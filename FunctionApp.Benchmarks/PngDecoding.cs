using BenchmarkDotNet.Attributes;
using FunctionApp.Imaging;
using FunctionApp.Inference;
using Microsoft.Extensions.Options;

namespace FunctionApp.Benchmarks;

/// <summary>
/// A PNG photo decoded by SkiaSharp's codec against <see cref="PngDecoder"/>, alone (open and decode, as the app
/// does) and inside the whole preprocessing into the bundled model's 224x224 tensor. The photo is a photo-like
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
    public int DecodeManaged() => Decode(_managed);

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

    private int Decode(ImageDecoder decoder)
    {
        using var image = decoder.Open(_png);
        using var bitmap = image.Decode(image.Width, image.Height);
        return bitmap.Width;
    }
}

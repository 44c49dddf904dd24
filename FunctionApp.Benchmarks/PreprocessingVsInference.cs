using BenchmarkDotNet.Attributes;
using FunctionApp.Imaging;
using FunctionApp.Inference;
using Microsoft.Extensions.Options;

namespace FunctionApp.Benchmarks;

/// <summary>
/// Decoding a 1024x768 JPEG, resizing and normalising it into ResNet-18's tensor, against ResNet-18
/// inference itself on the same machine. Target: preprocessing at most 0.25 of inference.
/// </summary>
public class PreprocessingVsInference
{
    private byte[] _jpeg = null!;
    private PreprocessingSpec _stretch = null!;
    private PreprocessingSpec _centerCrop = null!;
    private float[] _tensor = null!;
    private ImagePreprocessor _preprocessor = null!;
    private RawOnnxSession _raw = null!;

    [GlobalSetup]
    public void Setup()
    {
        var package = ModelPackage.Open(BundledModel.Directory);
        _jpeg = BundledModel.PhotoJpeg();
        _stretch = package.Manifest.Preprocessing;
        _centerCrop = _stretch with { Resize = ResizeMode.CenterCrop, ShorterSide = 256 };
        _tensor = new float[_stretch.TensorLength];
        _preprocessor = new ImagePreprocessor(new ImageDecoder(Options.Create(new ImageLimitsOptions())));
        _preprocessor.Preprocess(_jpeg, _stretch, _tensor, out _);

        _raw = new RawOnnxSession(package, (float[])_tensor.Clone());
    }

    [Benchmark(Baseline = true, Description = "ResNet-18 inference (raw ONNX Runtime)")]
    public float Inference() => _raw.RunFirst();

    [Benchmark(Description = "Preprocess 1024x768 JPEG, stretch to 224 (bundled model)")]
    public float PreprocessStretch()
    {
        _preprocessor.Preprocess(_jpeg, _stretch, _tensor, out _);
        return _tensor[0];
    }

    [Benchmark(Description = "Preprocess 1024x768 JPEG, shorter side 256, crop 224")]
    public float PreprocessCenterCrop()
    {
        _preprocessor.Preprocess(_jpeg, _centerCrop, _tensor, out _);
        return _tensor[0];
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _raw.Dispose();
    }
}

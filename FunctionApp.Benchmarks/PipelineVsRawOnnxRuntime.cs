using BenchmarkDotNet.Attributes;
using FunctionApp.Imaging;
using FunctionApp.Inference;
using Microsoft.Extensions.Options;
using Microsoft.ML;

namespace FunctionApp.Benchmarks;

/// <summary>
/// Single-image inference on ResNet-18 with the same preprocessed tensor: a raw ONNX Runtime session
/// (OrtValue over a pinned, reused buffer: the best a hand-written server does) against the app's ML.NET
/// pipeline through a pooled prediction engine, with the same session options. Target: ratio at most 1.15.
/// </summary>
public class PipelineVsRawOnnxRuntime
{
    private RawOnnxSession _raw = null!;
    private InferencePipeline _featurizer = null!;
    private PredictionEngine<TensorInput, ScoresOutput> _featurizerEngine = null!;
    private InferencePipeline _classifier = null!;
    private PredictionEngine<TensorInput, ScoresOutput> _classifierEngine = null!;
    private TensorInput _row = null!;
    private ScoresOutput _output = new();

    [GlobalSetup]
    public void Setup()
    {
        var package = ModelPackage.Open(BundledModel.Directory);
        var preprocessor = new ImagePreprocessor(new ImageDecoder(Options.Create(new ImageLimitsOptions())));
        var tensor = preprocessor.Preprocess(BundledModel.PhotoJpeg(), package.Manifest.Preprocessing, out _);

        _raw = new RawOnnxSession(package, tensor);

        _featurizer = InferencePipeline.Create(ModelPackage.Open(BundledModel.Directory, PackageUse.Featurizer), BundledModel.Runtime);
        _featurizerEngine = _featurizer.CreateEngine();
        _classifier = InferencePipeline.Create(package, BundledModel.Runtime);
        _classifierEngine = _classifier.CreateEngine();
        _row = new TensorInput { Pixels = tensor };

        // Same features either way, or the comparison means nothing.
        var expected = _raw.Run();
        var actual = _featurizerEngine.Predict(_row).Scores;
        if (expected.Length != actual.Length || expected.Zip(actual).Any(p => Math.Abs(p.First - p.Second) > 1e-4f))
            throw new InvalidOperationException("The ML.NET pipeline and raw ONNX Runtime disagree.");
    }

    [Benchmark(Baseline = true, Description = "Raw ONNX Runtime session (OrtValue)")]
    public float RawOnnxRuntime() => _raw.RunFirst();

    [Benchmark(Description = "ML.NET pipeline, ONNX features")]
    public float PipelineFeatures()
    {
        _featurizerEngine.Predict(_row, ref _output);
        return _output.Scores[0];
    }

    [Benchmark(Description = "ML.NET pipeline, ONNX + ML.NET head (bundled model)")]
    public float PipelineWithHead()
    {
        _classifierEngine.Predict(_row, ref _output);
        return _output.Scores[0];
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _featurizerEngine.Dispose();
        _classifierEngine.Dispose();
        _featurizer.Dispose();
        _classifier.Dispose();
        _raw.Dispose();
    }
}

using BenchmarkDotNet.Attributes;
using FunctionApp.Imaging;
using FunctionApp.Inference;
using Microsoft.Extensions.Options;
using Microsoft.ML;
using Microsoft.ML.OnnxRuntime;

namespace FunctionApp.Benchmarks;

/// <summary>
/// Single-image inference on ResNet-18 with the same preprocessed tensor: a raw ONNX Runtime session
/// (OrtValue over a pinned, reused buffer: the best a hand-written server does) against the app's ML.NET
/// pipeline through a pooled prediction engine, with the same session options. Target: ratio at most 1.15.
/// </summary>
public class PipelineVsRawOnnxRuntime
{
    private InferenceSession _session = null!;
    private OrtValue _input = null!;
    private RunOptions _runOptions = null!;
    private string[] _inputNames = null!;
    private string[] _outputNames = null!;
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

        _session = new InferenceSession(package.OnnxPath, BundledModel.Runtime.CreateSessionOptions());
        _input = OrtValue.CreateTensorValueFromMemory(tensor, [1, 3, 224, 224]);
        _runOptions = new RunOptions();
        _inputNames = [package.Manifest.InputTensor];
        _outputNames = [package.Manifest.OutputTensor];

        _featurizer = InferencePipeline.Create(ModelPackage.Open(BundledModel.Directory, PackageUse.Featurizer), BundledModel.Runtime);
        _featurizerEngine = _featurizer.CreateEngine();
        _classifier = InferencePipeline.Create(package, BundledModel.Runtime);
        _classifierEngine = _classifier.CreateEngine();
        _row = new TensorInput { Pixels = tensor };

        // Same features either way, or the comparison means nothing.
        using var raw = _session.Run(_runOptions, _inputNames, [_input], _outputNames);
        var expected = raw[0].GetTensorDataAsSpan<float>().ToArray();
        var actual = _featurizerEngine.Predict(_row).Scores;
        if (expected.Length != actual.Length || expected.Zip(actual).Any(p => Math.Abs(p.First - p.Second) > 1e-4f))
            throw new InvalidOperationException("The ML.NET pipeline and raw ONNX Runtime disagree.");
    }

    [Benchmark(Baseline = true, Description = "Raw ONNX Runtime session (OrtValue)")]
    public float RawOnnxRuntime()
    {
        using var outputs = _session.Run(_runOptions, _inputNames, [_input], _outputNames);
        return outputs[0].GetTensorDataAsSpan<float>()[0];
    }

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
        _input.Dispose();
        _runOptions.Dispose();
        _session.Dispose();
    }
}

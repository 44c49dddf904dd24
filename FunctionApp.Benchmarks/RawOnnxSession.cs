using FunctionApp.Inference;
using Microsoft.ML.OnnxRuntime;

namespace FunctionApp.Benchmarks;

/// <summary>
/// The baseline: a bare ONNX Runtime session with the app's session options, running one fixed tensor
/// through a reused OrtValue, as a hand-written server at its best would.
/// </summary>
internal sealed class RawOnnxSession : IDisposable
{
    private readonly InferenceSession _session;
    private readonly OrtValue _input;
    private readonly RunOptions _runOptions = new();
    private readonly string[] _inputNames;
    private readonly string[] _outputNames;

    public RawOnnxSession(ModelPackage package, float[] tensor)
    {
        var spec = package.Manifest.Preprocessing;
        _session = new InferenceSession(package.OnnxPath, BundledModel.Runtime.CreateSessionOptions());
        _input = OrtValue.CreateTensorValueFromMemory(tensor, [1, 3, spec.Height, spec.Width]);
        _inputNames = [package.Manifest.InputTensor];
        _outputNames = [package.Manifest.OutputTensor];
    }

    public float[] Run()
    {
        using var outputs = _session.Run(_runOptions, _inputNames, [_input], _outputNames);
        return outputs[0].GetTensorDataAsSpan<float>().ToArray();
    }

    public float RunFirst()
    {
        using var outputs = _session.Run(_runOptions, _inputNames, [_input], _outputNames);
        return outputs[0].GetTensorDataAsSpan<float>()[0];
    }

    public void Dispose()
    {
        _input.Dispose();
        _runOptions.Dispose();
        _session.Dispose();
    }
}

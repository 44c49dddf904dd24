using Microsoft.ML.OnnxRuntime;

namespace FunctionApp.Inference;

/// <summary>How a sliced model runs in one process.</summary>
public enum SliceResidency
{
    /// <summary>Every slice's session stays loaded: fastest.</summary>
    AllResident,

    /// <summary>Each slice is loaded, run and released in turn: peak memory stays near the largest slice.</summary>
    OneAtATime,
}

/// <summary>
/// Runs slices one after another, handing each the tensors it names from what the earlier slices produced
/// (float tensors). Thread-safe in <see cref="SliceResidency.AllResident"/> mode (ONNX Runtime sessions are).
/// </summary>
public sealed class SlicedModelRunner : IDisposable
{
    private readonly IReadOnlyList<(string Path, SliceInfo Info)> _slices;
    private readonly Func<SessionOptions> _options;
    private readonly SliceResidency _residency;
    private readonly InferenceSession[]? _sessions;

    public SlicedModelRunner(IReadOnlyList<(string Path, SliceInfo Info)> slices, SliceResidency residency, Func<SessionOptions> options)
    {
        ArgumentNullException.ThrowIfNull(slices);
        _slices = slices;
        _options = options;
        _residency = residency;
        if (residency == SliceResidency.AllResident)
            _sessions = slices.Select(s => Open(s.Path)).ToArray();
    }

    /// <summary>Runs every slice; returns the named outputs of the last slice (and any graph outputs produced earlier).</summary>
    public IReadOnlyDictionary<string, (float[] Data, long[] Shape)> Run(IReadOnlyDictionary<string, (float[] Data, long[] Shape)> inputs)
    {
        ArgumentNullException.ThrowIfNull(inputs);
        var available = new Dictionary<string, (float[] Data, long[] Shape)>(inputs, StringComparer.Ordinal);
        for (int s = 0; s < _slices.Count; s++)
        {
            var info = _slices[s].Info;
            var session = _sessions?[s] ?? Open(_slices[s].Path);
            try
            {
                var feeds = info.Inputs.Select(i => available.TryGetValue(i.Name, out var t)
                    ? OrtValue.CreateTensorValueFromMemory(t.Data, t.Shape)
                    : throw new InvalidOperationException($"Slice {s} needs tensor '{i.Name}', which no earlier slice produced.")).ToList();
                try
                {
                    using var runOptions = new RunOptions();
                    using var outputs = session.Run(runOptions, info.Inputs.Select(i => i.Name).ToList(), feeds, info.Outputs.Select(o => o.Name).ToList());
                    for (int o = 0; o < info.Outputs.Count; o++)
                        available[info.Outputs[o].Name] = (outputs[o].GetTensorDataAsSpan<float>().ToArray(), outputs[o].GetTensorTypeAndShape().Shape);
                }
                finally
                {
                    foreach (var feed in feeds)
                        feed.Dispose();
                }
            }
            finally
            {
                if (_residency == SliceResidency.OneAtATime)
                    session.Dispose();
            }
        }

        return available;
    }

    public void Dispose()
    {
        foreach (var session in _sessions ?? [])
            session.Dispose();
    }

    private InferenceSession Open(string path)
    {
        using var options = _options();
        return new InferenceSession(path, options);
    }
}

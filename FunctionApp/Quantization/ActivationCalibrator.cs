using Google.Protobuf;
using Microsoft.ML.OnnxRuntime;
using Onnx;

namespace FunctionApp.Quantization;

/// <summary>The range a tensor was seen to take over the calibration inputs.</summary>
public readonly record struct TensorRange(float Min, float Max);

/// <summary>How activation ranges are chosen from what calibration saw.</summary>
public enum CalibrationMethod
{
    /// <summary>The smallest and largest value seen: nothing saturates on inputs like the calibration set.</summary>
    MinMax,

    /// <summary>
    /// A high percentile (99.999th by default) of the values on each side over the calibration set: a few outliers no
    /// longer stretch the scale, at the cost of saturating them.
    /// </summary>
    Percentile,
}

/// <summary>
/// Learns the range of every float activation of a graph by exposing the tensors as extra graph outputs and running
/// ONNX Runtime over calibration inputs, one at a time, as the serving path feeds them.
/// </summary>
public sealed class ActivationCalibrator : IDisposable
{
    /// <summary>The percentile <see cref="CalibrationMethod.Percentile"/> keeps by default.</summary>
    public const double DefaultPercentile = 99.999;

    private readonly InferenceSession _session;
    private readonly string _inputName;
    private readonly long[] _inputShape;
    private readonly string[] _tensors;
    private readonly CalibrationMethod _method;
    private readonly float[] _min;
    private readonly float[] _max;
    private readonly List<List<float>> _samples = [];
    private readonly double _kept;

    /// <param name="model">A prepared float graph (see <see cref="GraphPreparation"/>).</param>
    /// <param name="inputShape">The input's concrete shape (one image).</param>
    /// <param name="percentile">For <see cref="CalibrationMethod.Percentile"/>: the percentile kept on each side, above 50 and at most 100.</param>
    public ActivationCalibrator(ModelProto model, string inputName, IReadOnlyList<long> inputShape, CalibrationMethod method = CalibrationMethod.MinMax, int intraOpThreads = 0, double percentile = DefaultPercentile)
    {
        if (!(percentile > 50 && percentile <= 100))
            throw new ArgumentOutOfRangeException(nameof(percentile), percentile, "The percentile must be above 50 and at most 100.");
        _kept = percentile / 100;
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(inputShape);
        _inputName = inputName;
        _inputShape = [.. inputShape];
        _method = method;
        var probe = model.Clone();
        var graph = probe.Graph;
        var initializers = graph.Initializer.Select(i => i.Name).ToHashSet(StringComparer.Ordinal);
        var declared = graph.Output.Select(o => o.Name).ToHashSet(StringComparer.Ordinal);
        _tensors = FloatActivations(graph).ToArray();
        foreach (var name in _tensors.Where(n => !declared.Contains(n) && !initializers.Contains(n)))
            graph.Output.Add(new ValueInfoProto { Name = name, Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)TensorProto.Types.DataType.Float } } });
        _min = Enumerable.Repeat(float.PositiveInfinity, _tensors.Length).ToArray();
        _max = Enumerable.Repeat(float.NegativeInfinity, _tensors.Length).ToArray();
        using var options = new SessionOptions { GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_BASIC, IntraOpNumThreads = intraOpThreads, InterOpNumThreads = 1 };
        _session = new InferenceSession(probe.ToByteArray(), options);
    }

    /// <summary>The tensors being calibrated: the graph's float input and every node output.</summary>
    public IReadOnlyList<string> Tensors => _tensors;

    /// <summary>How many inputs have been run.</summary>
    public int Count { get; private set; }

    /// <summary>Runs one input and widens each tensor's range by what it produced.</summary>
    public void Add(float[] input)
    {
        ArgumentNullException.ThrowIfNull(input);
        using var feed = OrtValue.CreateTensorValueFromMemory(input, _inputShape);
        using var runOptions = new RunOptions();
        var names = _tensors.Where(t => t != _inputName).ToArray();
        using var outputs = _session.Run(runOptions, [_inputName], [feed], names);
        var values = new Dictionary<string, ReadOnlyMemory<float>>(StringComparer.Ordinal) { [_inputName] = input };
        for (int i = 0; i < names.Length; i++)
            values[names[i]] = outputs[i].GetTensorDataAsSpan<float>().ToArray();
        for (int t = 0; t < _tensors.Length; t++)
        {
            var span = values[_tensors[t]].Span;
            float min = _min[t], max = _max[t];
            foreach (var v in span)
            {
                if (v < min)
                    min = v;
                if (v > max)
                    max = v;
            }

            _min[t] = min;
            _max[t] = max;
        }

        if (_method == CalibrationMethod.Percentile)
        {
            // Keep a strided sample of every tensor (about 2,048 values per image): enough for a percentile, far less than every value.
            for (int t = 0; t < _tensors.Length; t++)
            {
                var span = values[_tensors[t]].Span;
                int stride = Math.Max(1, span.Length / 2048);
                if (_samples.Count <= t)
                    _samples.Add([]);
                for (int i = 0; i < span.Length; i += stride)
                    _samples[t].Add(span[i]);
            }
        }

        Count++;
    }

    /// <summary>Each calibrated tensor's range.</summary>
    public IReadOnlyDictionary<string, TensorRange> Ranges()
    {
        if (Count == 0)
            throw new InvalidOperationException("No calibration input has been run.");
        var ranges = new Dictionary<string, TensorRange>(StringComparer.Ordinal);
        for (int t = 0; t < _tensors.Length; t++)
        {
            if (!float.IsFinite(_min[t]) || !float.IsFinite(_max[t]))
                continue;
            ranges[_tensors[t]] = _method == CalibrationMethod.Percentile && t < _samples.Count
                ? Percentile(_samples[t], _min[t], _max[t], _kept)
                : new TensorRange(_min[t], _max[t]);
        }

        return ranges;
    }

    public void Dispose() => _session.Dispose();

    /// <summary>The float tensors worth a range: graph inputs and node outputs (not weights).</summary>
    internal static IEnumerable<string> FloatActivations(GraphProto graph)
    {
        var initializers = graph.Initializer.Select(i => i.Name).ToHashSet(StringComparer.Ordinal);
        foreach (var input in graph.Input.Where(i => !initializers.Contains(i.Name) && i.Type?.TensorType?.ElemType == (int)TensorProto.Types.DataType.Float))
            yield return input.Name;
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var node in graph.Node)
        {
            if (node.OpType is "Shape" or "Size" or "ArgMax" or "ArgMin" or "Constant")
                continue;
            foreach (var output in node.Output.Where(o => o.Length > 0 && seen.Add(o)))
                yield return output;
        }
    }

    private static TensorRange Percentile(List<float> sample, float min, float max, double kept)
    {
        var sorted = sample.Order().ToArray();
        int low = (int)Math.Floor((1 - kept) * (sorted.Length - 1));
        int high = (int)Math.Ceiling(kept * (sorted.Length - 1));
        return new TensorRange(Math.Max(min, sorted[low]), Math.Min(max, sorted[high]));
    }
}

using Google.Protobuf;
using Microsoft.ML.OnnxRuntime;
using Onnx;

namespace FunctionApp.Quantization;

/// <summary>
/// Empirical bias correction (Nagel et al., 2019, "Data-Free Quantization Through Weight Equalization and Bias
/// Correction", §4.2, with the expectations taken over calibration data): quantizing weights and the activations before
/// a convolution shifts the mean of each of its output channels, and the shift carries on through the network. This
/// measures, for each quantized Conv or Gemm, the per-channel mean of its output before quantization in the QDQ graph
/// (run unfused, so the pairs are simulated in float) and in the float graph on the same inputs; the difference is
/// subtracted from the bias the next time the graph is quantized.
/// </summary>
public static class BiasCorrection
{
    /// <summary>
    /// The mean of each channel (axis 1) of <paramref name="tensors"/> over <paramref name="inputs"/>, with the graph
    /// run unoptimized (so QDQ pairs are not fused and every tensor named can be read).
    /// </summary>
    public static IReadOnlyDictionary<string, double[]> ChannelMeans(ModelProto model, string inputName, IReadOnlyList<long> inputShape, IReadOnlyCollection<string> tensors, IReadOnlyList<float[]> inputs, int intraOpThreads = 0, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(inputShape);
        ArgumentNullException.ThrowIfNull(tensors);
        ArgumentNullException.ThrowIfNull(inputs);
        if (inputs.Count == 0)
            throw new ArgumentException("At least one input is needed to measure channel means.", nameof(inputs));
        var probe = model.Clone();
        var declared = probe.Graph.Output.Select(o => o.Name).ToHashSet(StringComparer.Ordinal);
        foreach (var name in tensors.Where(n => !declared.Contains(n)))
            probe.Graph.Output.Add(new ValueInfoProto { Name = name, Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)TensorProto.Types.DataType.Float } } });
        using var options = new SessionOptions { GraphOptimizationLevel = GraphOptimizationLevel.ORT_DISABLE_ALL, IntraOpNumThreads = intraOpThreads, InterOpNumThreads = 1 };
        using var session = new InferenceSession(probe.ToByteArray(), options);
        var names = tensors.ToArray();
        var sums = new double[names.Length][];
        long[] counts = new long[names.Length];
        long[] shape = [.. inputShape];
        foreach (var input in inputs)
        {
            cancellationToken.ThrowIfCancellationRequested();
            using var feed = OrtValue.CreateTensorValueFromMemory(input, shape);
            using var runOptions = new RunOptions();
            using var outputs = session.Run(runOptions, [inputName], [feed], names);
            for (int t = 0; t < names.Length; t++)
            {
                var dims = outputs[t].GetTensorTypeAndShape().Shape;
                if (dims.Length < 2)
                    throw new NotSupportedException($"Tensor '{names[t]}' has {dims.Length} dimensions; a channel mean needs at least 2.");
                int channels = (int)dims[1];
                long inner = 1;
                for (int d = 2; d < dims.Length; d++)
                    inner *= dims[d];
                sums[t] ??= new double[channels];
                var span = outputs[t].GetTensorDataAsSpan<float>();
                for (int i = 0; i < span.Length; i++)
                    sums[t][(int)(i / inner % channels)] += span[i];
                counts[t] += span.Length / channels;
            }
        }

        var means = new Dictionary<string, double[]>(StringComparer.Ordinal);
        for (int t = 0; t < names.Length; t++)
            means[names[t]] = sums[t].Select(s => s / counts[t]).ToArray();
        return means;
    }

    /// <summary>
    /// Quantizes <paramref name="prepared"/> with bias correction, layer by layer from the input: the quantized Conv and
    /// Gemm nodes are grouped by depth (how many of them lie on the longest path from the input, through any operator),
    /// and for each depth in turn the QDQ graph's per-channel output means are compared with the float graph's on
    /// <paramref name="inputs"/> and the difference added to those nodes' biases. Every node is thus corrected for the
    /// shift left once all the nodes before it have been corrected (correcting every node at once from one measurement
    /// over-corrects: part of a deep layer's shift is only what the layers before it pass on).
    /// </summary>
    /// <param name="onDepth">Called after each depth is corrected, with the depth and the number of depths.</param>
    public static ModelProto Quantize(ModelProto prepared, IReadOnlyDictionary<string, TensorRange> ranges, QdqOptions options, string inputName, IReadOnlyList<long> inputShape, IReadOnlyList<float[]> inputs, int intraOpThreads, out QdqSummary summary, Action<int, int>? onDepth = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(prepared);
        ArgumentNullException.ThrowIfNull(options);
        var corrections = new Dictionary<string, float[]>(StringComparer.Ordinal);
        var quantized = QdqQuantizer.Quantize(prepared, ranges, options, out summary);
        if (summary.WeightedOutputs.Count == 0)
            return quantized;
        var weighted = summary.WeightedOutputs;
        var levels = Depths(prepared.Graph, weighted.Keys.ToHashSet(StringComparer.Ordinal));
        var floatMeans = ChannelMeans(prepared, inputName, inputShape, weighted.Keys.ToList(), inputs, intraOpThreads, cancellationToken);
        var byDepth = weighted.Keys.GroupBy(k => levels[k]).OrderBy(g => g.Key).ToList();
        for (int d = 0; d < byDepth.Count; d++)
        {
            var layer = byDepth[d].ToList();
            var quantizedMeans = ChannelMeans(quantized, inputName, inputShape, layer.Select(o => weighted[o]).ToList(), inputs, intraOpThreads, cancellationToken);
            foreach (var original in layer)
            {
                var expected = floatMeans[original];
                var actual = quantizedMeans[weighted[original]];
                var correction = new float[expected.Length];
                for (int i = 0; i < correction.Length; i++)
                    correction[i] = (float)(expected[i] - actual[i]);
                corrections[original] = correction;
            }

            quantized = QdqQuantizer.Quantize(prepared, ranges, options with { BiasCorrections = corrections }, out summary);
            onDepth?.Invoke(d + 1, byDepth.Count);
        }

        return quantized;
    }

    /// <summary>For each of <paramref name="weighted"/> (node outputs): how many of them lie on the longest path from the graph's inputs to it, itself included.</summary>
    public static IReadOnlyDictionary<string, int> Depths(GraphProto graph, IReadOnlySet<string> weighted)
    {
        var depth = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var node in graph.Node)
        {
            int before = node.Input.Select(i => depth.GetValueOrDefault(i)).DefaultIfEmpty(0).Max();
            foreach (var output in node.Output)
                depth[output] = before + (weighted.Contains(output) ? 1 : 0);
        }

        return weighted.ToDictionary(w => w, w => depth[w], StringComparer.Ordinal);
    }
}

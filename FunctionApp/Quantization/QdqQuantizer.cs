using Onnx;

namespace FunctionApp.Quantization;

/// <summary>What to quantize and how.</summary>
public sealed record QdqOptions
{
    /// <summary>The type of quantized activations (weights are always symmetric int8, per output channel).</summary>
    public QuantType Activations { get; init; } = QuantType.U8;

    /// <summary>Nodes (by name, or by their first output's name) left in float.</summary>
    public IReadOnlySet<string> Excluded { get; init; } = new HashSet<string>(StringComparer.Ordinal);

    /// <summary>
    /// Leave float the Conv, Gemm or MatMul that reads a graph input. Its input is the image itself: pixels minus a
    /// different mean per channel span more values than one 8-bit scale can hold one step apart, so quantizing them adds
    /// noise the rest of the network carries to the answer.
    /// </summary>
    public bool KeepInputLayerFloat { get; init; }

    /// <summary>
    /// Give no Add its own quantized output. Its inputs keep their pairs where something else quantized reads them, so
    /// ONNX Runtime still fuses into QLinearAdd an Add whose result (after a ReLU) a quantized node reads; an Add whose
    /// result nothing quantized reads, such as the last one of a ResNet whose sum is averaged into the features, stays
    /// float instead of being rounded to 8 bits.
    /// </summary>
    public bool KeepAddsFloat { get; init; }

    /// <summary>
    /// Added to the float bias of a quantized Conv or Gemm, per output channel, before the bias is quantized; keyed by the
    /// node's first output in the prepared graph (see <see cref="BiasCorrection"/>). A node with no bias gets one.
    /// </summary>
    public IReadOnlyDictionary<string, float[]> BiasCorrections { get; init; } = new Dictionary<string, float[]>(StringComparer.Ordinal);

    /// <summary>
    /// The int8 values of a quantized Conv's weight, chosen elsewhere (see <see cref="WeightRounding"/>) on the grid of
    /// the per-channel scales <see cref="QuantizationMath.QuantizeWeights"/> gives, in place of rounding each to its
    /// nearest step; keyed by the node's first output in the prepared graph.
    /// </summary>
    public IReadOnlyDictionary<string, sbyte[]> RoundedWeights { get; init; } = new Dictionary<string, sbyte[]>(StringComparer.Ordinal);
}

/// <summary>What the rewrite did: nodes quantized per operator, activations folded into a quantized output, and tensors given a QuantizeLinear/DequantizeLinear pair.</summary>
/// <param name="WeightedOutputs">For each quantized Conv, Gemm or MatMul: its output in the prepared graph, and the float tensor it writes in the quantized graph before that is quantized (the output of a ReLU folded into it).</param>
/// <param name="BiasCorrected">How many biases were corrected.</param>
/// <param name="RoundedWeights">How many weights took their int8 values from <see cref="QdqOptions.RoundedWeights"/>.</param>
public sealed record QdqSummary(IReadOnlyDictionary<string, int> QuantizedNodes, int FoldedActivations, int QuantizedTensors, int QuantizedWeights, IReadOnlyList<string> FloatNodes, IReadOnlyDictionary<string, string> WeightedOutputs, int BiasCorrected, int RoundedWeights = 0)
{
    public int TotalQuantized => QuantizedNodes.Values.Sum();
}

/// <summary>
/// Static QDQ quantization of a prepared float graph (see <see cref="GraphPreparation"/>), as ONNX Runtime's own tools
/// write it: every activation that enters or leaves a quantizable operator passes through QuantizeLinear then
/// DequantizeLinear with a scale and zero point from calibration; Conv and Gemm weights become per-channel symmetric int8
/// with a DequantizeLinear, and their biases int32 at input scale × weight scale. A ReLU right after a quantized Conv,
/// Gemm or Add is dropped and its range given to the producer's output (the zero point at the type's minimum clamps
/// exactly as ReLU would). ONNX Runtime's graph optimizer then fuses each DequantizeLinear → op → QuantizeLinear group
/// into QLinearConv, QLinearMatMul, QLinearAdd and their kin, which run on 8-bit integers. Graph outputs stay float.
/// </summary>
public static class QdqQuantizer
{
    private static readonly HashSet<string> WeightedOps = new(StringComparer.Ordinal) { "Conv", "Gemm", "MatMul" };
    private static readonly HashSet<string> ActivationOps = new(StringComparer.Ordinal) { "Add", "MaxPool", "AveragePool", "GlobalAveragePool" };

    public static ModelProto Quantize(ModelProto prepared, IReadOnlyDictionary<string, TensorRange> ranges, QdqOptions options, out QdqSummary summary)
    {
        ArgumentNullException.ThrowIfNull(prepared);
        ArgumentNullException.ThrowIfNull(ranges);
        ArgumentNullException.ThrowIfNull(options);
        var model = prepared.Clone();
        var graph = model.Graph;
        var type = options.Activations;
        var initializers = graph.Initializer.ToDictionary(i => i.Name, StringComparer.Ordinal);
        var graphOutputs = graph.Output.Select(o => o.Name).ToHashSet(StringComparer.Ordinal);
        var graphInputs = graph.Input.Select(i => i.Name).ToHashSet(StringComparer.Ordinal);
        var effective = new Dictionary<string, TensorRange>(ranges, StringComparer.Ordinal);

        bool Excluded(NodeProto n) => options.Excluded.Contains(n.Name) || (n.Output.Count > 0 && options.Excluded.Contains(n.Output[0]));
        bool IsActivation(string name) => name.Length > 0 && !initializers.ContainsKey(name) && effective.ContainsKey(name);
        bool Quantizable(NodeProto n)
        {
            // A node whose output leaves the graph keeps it float, and ONNX Runtime fuses no op without a quantized output.
            if (Excluded(n) || n.Domain is not ("" or "ai.onnx") || n.Output.Count != 1 || graphOutputs.Contains(n.Output[0]))
                return false;
            if (WeightedOps.Contains(n.OpType))
            {
                if (options.KeepInputLayerFloat && graphInputs.Contains(n.Input[0]))
                    return false;
                if (!IsActivation(n.Input[0]) || !initializers.TryGetValue(n.Input[1], out var w) || w.DataType != (int)TensorProto.Types.DataType.Float)
                    return false;
                return n.OpType switch
                {
                    "Conv" => w.Dims.Count >= 3,
                    "Gemm" => w.Dims.Count == 2 && OnnxTensors.Attribute(n, "transA", 0) == 0 && OnnxTensors.FloatAttribute(n, "alpha", 1f) == 1f && OnnxTensors.FloatAttribute(n, "beta", 1f) == 1f,
                    _ => w.Dims.Count == 2,
                };
            }

            if (n.OpType == "Add")
                return !options.KeepAddsFloat && n.Input.Count == 2 && n.Input.All(IsActivation);
            return ActivationOps.Contains(n.OpType) && n.Output.Count == 1 && IsActivation(n.Input[0]);
        }

        var originalOutputs = new Dictionary<NodeProto, string>(ReferenceEqualityComparer.Instance);
        foreach (var node in graph.Node.Where(n => n.Output.Count > 0))
            originalOutputs[node] = node.Output[0];

        // 1. ReLUs folded into the quantized output before them.
        int foldedActivations = 0;
        var consumerCount = graph.Node.SelectMany(n => n.Input).GroupBy(i => i, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.Count(), StringComparer.Ordinal);
        var producers = new Dictionary<string, NodeProto>(StringComparer.Ordinal);
        foreach (var node in graph.Node)
        {
            foreach (var output in node.Output)
                producers[output] = node;
        }

        foreach (var relu in graph.Node.Where(n => n.OpType == "Relu" && !Excluded(n)).ToList())
        {
            var x = relu.Input[0];
            var y = relu.Output[0];
            if (!producers.TryGetValue(x, out var producer) || producer.OpType is not ("Conv" or "Gemm" or "Add") || !Quantizable(producer))
                continue;
            if (consumerCount.GetValueOrDefault(x) != 1 || graphOutputs.Contains(x) || graphOutputs.Contains(y) || !effective.TryGetValue(y, out var range))
                continue;
            producer.Output[0] = y;
            producers[y] = producer;
            effective[y] = range with { Min = 0f };
            graph.Node.Remove(relu);
            foldedActivations++;
        }

        // 2. Which nodes run quantized, and which tensors get a QuantizeLinear/DequantizeLinear pair.
        var quantized = graph.Node.Where(Quantizable).ToList();
        var parameters = new Dictionary<string, QuantParams>(StringComparer.Ordinal);
        var order = new List<string>();
        void Mark(string tensor, QuantParams? given = null)
        {
            if (graphOutputs.Contains(tensor) || parameters.ContainsKey(tensor))
                return;
            var r = effective[tensor];
            parameters[tensor] = given ?? QuantizationMath.Asymmetric(r.Min, r.Max, type);
            order.Add(tensor);
        }

        foreach (var node in quantized)
        {
            if (node.OpType == "Add")
            {
                Mark(node.Input[0]);
                Mark(node.Input[1]);
            }
            else
            {
                Mark(node.Input[0]);
            }
        }

        foreach (var node in quantized)
        {
            var output = node.Output[0];
            if (graphOutputs.Contains(output) || !effective.ContainsKey(output))
                continue;
            // MaxPool only moves values: its output must share the input's scale for the pair around it to drop away.
            if (node.OpType == "MaxPool")
                Mark(output, parameters[node.Input[0]]);
            else
                Mark(output);
        }

        // 3. Weights and biases.
        var newInitializers = new List<TensorProto>();
        var weightNodes = new List<NodeProto>();
        int quantizedWeights = 0, biasCorrected = 0, roundedWeights = 0;
        var weightedOutputs = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var node in quantized.Where(n => WeightedOps.Contains(n.OpType)))
        {
            var weight = initializers[node.Input[1]];
            int axis = node.OpType switch
            {
                "Conv" => 0,
                "Gemm" => OnnxTensors.Attribute(node, "transB", 0) == 1 ? 0 : 1,
                _ => 1,
            };
            var prefix = node.Input[1] + "_" + node.Output[0];
            var (values, scales) = QuantizationMath.QuantizeWeights(OnnxTensors.ReadFloats(weight), weight.Dims, axis);
            if (options.RoundedWeights.TryGetValue(originalOutputs[node], out var rounded))
            {
                if (rounded.Length != values.Length)
                    throw new ArgumentException($"The rounded weight for '{originalOutputs[node]}' has {rounded.Length} values; the node's has {values.Length}.", nameof(options));
                values = rounded;
                roundedWeights++;
            }

            newInitializers.Add(OnnxTensors.Int8(prefix + "_quantized", weight.Dims, values));
            newInitializers.Add(OnnxTensors.Floats(prefix + "_scale", [scales.Length], scales));
            newInitializers.Add(OnnxTensors.ZeroPoint(prefix + "_zero_point", QuantType.S8, [scales.Length], new int[scales.Length]));
            weightNodes.Add(OnnxTensors.Node("DequantizeLinear", prefix + "_DequantizeLinear", [prefix + "_quantized", prefix + "_scale", prefix + "_zero_point"], [prefix + "_dequantized"], OnnxTensors.IntAttribute("axis", axis)));
            node.Input[1] = prefix + "_dequantized";
            quantizedWeights++;
            var original = originalOutputs[node];
            weightedOutputs[original] = node.Output[0];

            int biasIndex = node.OpType == "Conv" ? 2 : node.OpType == "Gemm" ? 2 : -1;
            options.BiasCorrections.TryGetValue(original, out var correction);
            if (correction is not null && correction.Length != scales.Length)
                throw new ArgumentException($"The bias correction for '{original}' has {correction.Length} channels; the node has {scales.Length}.", nameof(options));
            if (biasIndex >= 0 && node.Input.Count <= biasIndex && correction is not null)
            {
                // No bias to correct: a zero one, which the correction then moves.
                var zeroBias = OnnxTensors.Floats(original + "_bias", [scales.Length], new float[scales.Length]);
                initializers[zeroBias.Name] = zeroBias;
                node.Input.Add(zeroBias.Name);
            }

            if (biasIndex < 0 || node.Input.Count <= biasIndex || !initializers.TryGetValue(node.Input[biasIndex], out var bias) || bias.Dims.Count != 1 || bias.Dims[0] != scales.Length)
                continue;
            var inputScale = parameters[node.Input[0]].Scale;
            var floatBias = OnnxTensors.ReadFloats(bias);
            if (correction is not null)
            {
                for (int i = 0; i < floatBias.Length; i++)
                    floatBias[i] += correction[i];
                biasCorrected++;
            }

            var (biasValues, biasScales) = QuantizationMath.QuantizeBias(floatBias, inputScale, scales);
            var biasPrefix = node.Input[biasIndex] + "_" + node.Output[0];
            newInitializers.Add(OnnxTensors.Int32(biasPrefix + "_quantized", [biasValues.Length], biasValues));
            newInitializers.Add(OnnxTensors.Floats(biasPrefix + "_scale", [biasScales.Length], biasScales));
            newInitializers.Add(OnnxTensors.Raw(biasPrefix + "_zero_point", TensorProto.Types.DataType.Int32, [biasValues.Length], new byte[biasValues.Length * 4]));
            weightNodes.Add(OnnxTensors.Node("DequantizeLinear", biasPrefix + "_DequantizeLinear", [biasPrefix + "_quantized", biasPrefix + "_scale", biasPrefix + "_zero_point"], [biasPrefix + "_dequantized"], OnnxTensors.IntAttribute("axis", 0)));
            node.Input[biasIndex] = biasPrefix + "_dequantized";
        }

        // 4. The pairs: each consumer of a quantized tensor reads its dequantized copy.
        var pairs = new Dictionary<string, List<NodeProto>>(StringComparer.Ordinal);
        foreach (var tensor in order)
        {
            var p = parameters[tensor];
            newInitializers.Add(OnnxTensors.Floats(tensor + "_scale", [], [p.Scale]));
            newInitializers.Add(OnnxTensors.ZeroPoint(tensor + "_zero_point", type, [], [p.ZeroPoint]));
            pairs[tensor] =
            [
                OnnxTensors.Node("QuantizeLinear", tensor + "_QuantizeLinear", [tensor, tensor + "_scale", tensor + "_zero_point"], [tensor + "_quantized"]),
                OnnxTensors.Node("DequantizeLinear", tensor + "_DequantizeLinear", [tensor + "_quantized", tensor + "_scale", tensor + "_zero_point"], [tensor + "_dequantized"]),
            ];
            foreach (var consumer in graph.Node)
            {
                for (int i = 0; i < consumer.Input.Count; i++)
                {
                    if (consumer.Input[i] == tensor)
                        consumer.Input[i] = tensor + "_dequantized";
                }
            }
        }

        var nodes = new List<NodeProto>(weightNodes);
        foreach (var input in graph.Input.Where(i => pairs.ContainsKey(i.Name)))
            nodes.AddRange(pairs[input.Name]);
        foreach (var node in graph.Node)
        {
            nodes.Add(node);
            foreach (var output in node.Output.Where(pairs.ContainsKey))
                nodes.AddRange(pairs[output]);
        }

        graph.Node.Clear();
        graph.Node.AddRange(nodes);
        graph.Initializer.AddRange(newInitializers);
        var used = graph.Node.SelectMany(n => n.Input).ToHashSet(StringComparer.Ordinal);
        foreach (var unused in graph.Initializer.Where(i => !used.Contains(i.Name)).ToList())
            graph.Initializer.Remove(unused);
        graph.ValueInfo.Clear();

        var byOp = quantized.GroupBy(n => n.OpType, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.Count(), StringComparer.Ordinal);
        var floatNodes = graph.Node.Where(n => n.OpType is not ("QuantizeLinear" or "DequantizeLinear") && !quantized.Contains(n)).Select(n => $"{n.OpType} {n.Name}").ToList();
        summary = new QdqSummary(byOp, foldedActivations, order.Count, quantizedWeights, floatNodes, weightedOutputs, biasCorrected, roundedWeights);
        return model;
    }
}

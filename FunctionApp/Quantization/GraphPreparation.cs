using Onnx;

namespace FunctionApp.Quantization;

/// <summary>
/// Readies a float graph for QDQ quantization: folds each BatchNormalization into the convolution before it (so the
/// quantized weights carry it), lifts the graph to opset 13 where per-channel QuantizeLinear and DequantizeLinear exist
/// (only for operators whose meaning did not change on the way), and drops weights listed among the graph inputs, which
/// ONNX Runtime would otherwise treat as overridable and leave unfused.
/// </summary>
public static class GraphPreparation
{
    public const int QdqOpset = 13;

    /// <summary>Operators whose definition at opset 13 reads a graph written at any opset from 7 the same way.</summary>
    private static readonly HashSet<string> UpgradableOps = new(StringComparer.Ordinal)
    {
        "Conv", "Relu", "MaxPool", "AveragePool", "GlobalAveragePool", "GlobalMaxPool", "Add", "Sub", "Mul", "Flatten",
        "Gemm", "MatMul", "Concat", "Identity", "Transpose", "Sigmoid", "Tanh", "LeakyRelu", "BatchNormalization",
    };

    /// <summary>Returns a prepared copy; <paramref name="notes"/> says what was changed.</summary>
    /// <exception cref="NotSupportedException">The graph uses an operator that cannot be lifted to opset 13 safely, or a BatchNormalization that cannot be folded below opset 9.</exception>
    public static ModelProto Prepare(ModelProto source, ICollection<string>? notes = null)
    {
        ArgumentNullException.ThrowIfNull(source);
        var model = source.Clone();
        var graph = model.Graph;
        var opset = model.OpsetImport.FirstOrDefault(o => o.Domain is "" or "ai.onnx");
        if (opset is null)
            throw new NotSupportedException("The model imports no version of the standard ONNX operator set.");

        var declaredWeights = graph.Initializer.Select(i => i.Name).ToHashSet(StringComparer.Ordinal);
        foreach (var input in graph.Input.Where(i => declaredWeights.Contains(i.Name)).ToList())
            graph.Input.Remove(input);

        int folded = FoldBatchNorms(graph);
        if (folded > 0)
            notes?.Add($"folded {folded} BatchNormalization nodes into the convolutions before them");

        if (opset.Version < QdqOpset)
        {
            var blocked = graph.Node.Where(n => n.Domain is "" or "ai.onnx" && !UpgradableOps.Contains(n.OpType)).Select(n => n.OpType).Distinct().ToList();
            if (blocked.Count > 0)
                throw new NotSupportedException($"The model uses opset {opset.Version}, and quantization needs opset {QdqOpset}; its operators {string.Join(", ", blocked)} cannot be carried over safely. Export the model at opset {QdqOpset} or later.");
            if (opset.Version < 9 && graph.Node.Any(n => n.OpType == "BatchNormalization"))
                throw new NotSupportedException($"The model uses opset {opset.Version} BatchNormalization nodes that do not follow a convolution; export it at opset {QdqOpset} or later.");
            foreach (var node in graph.Node.Where(n => n.OpType == "BatchNormalization"))
                RemoveAttribute(node, "spatial");
            notes?.Add($"lifted the graph from opset {opset.Version} to {QdqOpset}");
            opset.Version = QdqOpset;
        }

        model.IrVersion = Math.Max(model.IrVersion, 7);
        return model;
    }

    /// <summary>Conv → BatchNormalization, where the convolution feeds nothing else and the statistics are weights, becomes one Conv with a bias.</summary>
    internal static int FoldBatchNorms(GraphProto graph)
    {
        var initializers = graph.Initializer.ToDictionary(i => i.Name, StringComparer.Ordinal);
        var consumers = graph.Node.SelectMany(n => n.Input).GroupBy(i => i, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.Count(), StringComparer.Ordinal);
        var outputs = graph.Output.Select(o => o.Name).ToHashSet(StringComparer.Ordinal);
        var producers = new Dictionary<string, NodeProto>(StringComparer.Ordinal);
        foreach (var node in graph.Node)
        {
            foreach (var output in node.Output)
                producers[output] = node;
        }

        int folded = 0;
        foreach (var bn in graph.Node.Where(n => n.OpType == "BatchNormalization").ToList())
        {
            if (bn.Output.Count != 1 || bn.Input.Count != 5 || !bn.Input.Skip(1).All(initializers.ContainsKey))
                continue;
            if (!producers.TryGetValue(bn.Input[0], out var conv) || conv.OpType != "Conv" || consumers[bn.Input[0]] != 1 || outputs.Contains(bn.Input[0]))
                continue;
            if (!initializers.TryGetValue(conv.Input[1], out var weight) || consumers[conv.Input[1]] != 1)
                continue;
            if (conv.Input.Count > 2 && conv.Input[2].Length > 0 && (!initializers.ContainsKey(conv.Input[2]) || consumers[conv.Input[2]] != 1))
                continue;
            if (OnnxTensors.Attribute(bn, "spatial", 1) != 1)
                continue;

            float epsilon = OnnxTensors.FloatAttribute(bn, "epsilon", 1e-5f);
            var gamma = OnnxTensors.ReadFloats(initializers[bn.Input[1]]);
            var beta = OnnxTensors.ReadFloats(initializers[bn.Input[2]]);
            var mean = OnnxTensors.ReadFloats(initializers[bn.Input[3]]);
            var variance = OnnxTensors.ReadFloats(initializers[bn.Input[4]]);
            var w = OnnxTensors.ReadFloats(weight);
            int channels = (int)weight.Dims[0];
            if (gamma.Length != channels || beta.Length != channels || mean.Length != channels || variance.Length != channels)
                continue;
            var b = conv.Input.Count > 2 && conv.Input[2].Length > 0 ? OnnxTensors.ReadFloats(initializers[conv.Input[2]]) : new float[channels];
            int perChannel = w.Length / channels;
            for (int c = 0; c < channels; c++)
            {
                double factor = gamma[c] / Math.Sqrt(variance[c] + (double)epsilon);
                for (int i = 0; i < perChannel; i++)
                    w[(c * perChannel) + i] = (float)(w[(c * perChannel) + i] * factor);
                b[c] = (float)(((b[c] - mean[c]) * factor) + beta[c]);
            }

            var newWeight = OnnxTensors.Floats(weight.Name, weight.Dims, w);
            graph.Initializer[graph.Initializer.IndexOf(weight)] = newWeight;
            initializers[weight.Name] = newWeight;
            var biasName = conv.Input.Count > 2 && conv.Input[2].Length > 0 ? conv.Input[2] : conv.Output[0] + "_folded_bias";
            var newBias = OnnxTensors.Floats(biasName, [channels], b);
            if (initializers.TryGetValue(biasName, out var oldBias))
                graph.Initializer[graph.Initializer.IndexOf(oldBias)] = newBias;
            else
                graph.Initializer.Add(newBias);
            initializers[biasName] = newBias;
            while (conv.Input.Count < 3)
                conv.Input.Add(string.Empty);
            conv.Input[2] = biasName;
            conv.Output[0] = bn.Output[0];
            graph.Node.Remove(bn);
            folded++;
        }

        // Statistics nobody reads any more.
        var used = graph.Node.SelectMany(n => n.Input).ToHashSet(StringComparer.Ordinal);
        foreach (var unused in graph.Initializer.Where(i => !used.Contains(i.Name)).ToList())
            graph.Initializer.Remove(unused);
        return folded;
    }

    private static void RemoveAttribute(NodeProto node, string name)
    {
        if (node.Attribute.FirstOrDefault(a => a.Name == name) is { } attribute)
            node.Attribute.Remove(attribute);
    }
}

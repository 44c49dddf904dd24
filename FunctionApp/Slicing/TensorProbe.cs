using FunctionApp.Inference;
using Google.Protobuf;
using Microsoft.ML.OnnxRuntime;
using Onnx;

namespace FunctionApp.Slicing;

/// <summary>
/// Learns the element type and concrete shape of tensors inside a graph by running it once with ONNX Runtime
/// on zero inputs, with those tensors exposed as extra outputs. Symbolic dimensions of the graph's inputs are
/// taken as 1 (one image), as the serving pipeline feeds them.
/// </summary>
public static class TensorProbe
{
    public static IReadOnlyDictionary<string, SliceTensor> Discover(ModelProto model, IEnumerable<string> names)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(names);
        var graph = model.Graph;
        var initializers = graph.Initializer.Select(i => i.Name).ToHashSet(StringComparer.Ordinal);
        var inputs = graph.Input.Where(i => !initializers.Contains(i.Name)).ToList();
        var result = new Dictionary<string, SliceTensor>(StringComparer.Ordinal);
        foreach (var input in inputs)
        {
            var tensor = input.Type.TensorType;
            result[input.Name] = new SliceTensor(input.Name, tensor.ElemType, tensor.Shape.Dim.Select(d => d.ValueCase == TensorShapeProto.Types.Dimension.ValueOneofCase.DimValue ? d.DimValue : 1L).ToArray());
        }

        var wanted = names.Where(n => !result.ContainsKey(n)).Distinct(StringComparer.Ordinal).ToList();
        var probe = model.Clone();
        var declared = probe.Graph.Output.Select(o => o.Name).ToHashSet(StringComparer.Ordinal);
        var known = probe.Graph.ValueInfo.ToDictionary(v => v.Name, StringComparer.Ordinal);
        foreach (var name in wanted.Where(n => !declared.Contains(n)))
        {
            int elemType = known.TryGetValue(name, out var info) ? info.Type.TensorType.ElemType : (int)TensorProto.Types.DataType.Float;
            probe.Graph.Output.Add(new ValueInfoProto { Name = name, Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = elemType } } });
        }

        probe.IrVersion = Math.Max(probe.IrVersion, 4);
        using var options = new SessionOptions { GraphOptimizationLevel = GraphOptimizationLevel.ORT_DISABLE_ALL };
        using var session = new InferenceSession(probe.ToByteArray(), options);
        var feeds = inputs.Select(i =>
        {
            var spec = result[i.Name];
            if (spec.ElementType != (int)TensorProto.Types.DataType.Float)
                throw new NotSupportedException($"Input '{i.Name}' is not float; only float inputs can be probed.");
            return OrtValue.CreateTensorValueFromMemory(new float[spec.Shape.Aggregate(1L, (a, b) => a * b)], spec.Shape.ToArray());
        }).ToList();
        try
        {
            using var runOptions = new RunOptions();
            using var outputs = session.Run(runOptions, inputs.Select(i => i.Name).ToList(), feeds, wanted);
            for (int i = 0; i < wanted.Count; i++)
            {
                var shape = outputs[i].GetTensorTypeAndShape();
                result[wanted[i]] = new SliceTensor(wanted[i], (int)shape.ElementDataType, shape.Shape);
            }
        }
        finally
        {
            foreach (var feed in feeds)
                feed.Dispose();
        }

        return result;
    }
}

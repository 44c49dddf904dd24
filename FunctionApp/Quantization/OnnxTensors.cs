using System.Runtime.InteropServices;
using Google.Protobuf;
using Onnx;

namespace FunctionApp.Quantization;

/// <summary>Reading and writing the initializers and attributes the quantizer touches.</summary>
internal static class OnnxTensors
{
    public static float[] ReadFloats(TensorProto tensor)
    {
        if (tensor.DataType != (int)TensorProto.Types.DataType.Float)
            throw new NotSupportedException($"Initializer '{tensor.Name}' holds {(TensorProto.Types.DataType)tensor.DataType}, not float.");
        if (tensor.DataLocation == TensorProto.Types.DataLocation.External)
            throw new NotSupportedException($"Initializer '{tensor.Name}' is stored outside the model file; the quantizer reads weights held in the graph.");
        if (!tensor.RawData.IsEmpty)
            return MemoryMarshal.Cast<byte, float>(tensor.RawData.Span).ToArray();
        return [.. tensor.FloatData];
    }

    public static TensorProto Floats(string name, IReadOnlyList<long> dims, ReadOnlySpan<float> values) => Raw(name, TensorProto.Types.DataType.Float, dims, MemoryMarshal.AsBytes(values));

    public static TensorProto Int8(string name, IReadOnlyList<long> dims, ReadOnlySpan<sbyte> values) => Raw(name, TensorProto.Types.DataType.Int8, dims, MemoryMarshal.AsBytes(values));

    public static TensorProto Int32(string name, IReadOnlyList<long> dims, ReadOnlySpan<int> values) => Raw(name, TensorProto.Types.DataType.Int32, dims, MemoryMarshal.AsBytes(values));

    public static TensorProto ZeroPoint(string name, QuantType type, IReadOnlyList<long> dims, ReadOnlySpan<int> values)
    {
        var bytes = new byte[values.Length];
        for (int i = 0; i < values.Length; i++)
            bytes[i] = type == QuantType.U8 ? (byte)values[i] : (byte)(sbyte)values[i];
        return Raw(name, type == QuantType.U8 ? TensorProto.Types.DataType.Uint8 : TensorProto.Types.DataType.Int8, dims, bytes);
    }

    public static TensorProto Raw(string name, TensorProto.Types.DataType type, IReadOnlyList<long> dims, ReadOnlySpan<byte> bytes)
    {
        var tensor = new TensorProto { Name = name, DataType = (int)type, RawData = ByteString.CopyFrom(bytes) };
        tensor.Dims.AddRange(dims);
        return tensor;
    }

    public static long Attribute(NodeProto node, string name, long fallback) =>
        node.Attribute.FirstOrDefault(a => a.Name == name) is { } a ? a.I : fallback;

    public static float FloatAttribute(NodeProto node, string name, float fallback) =>
        node.Attribute.FirstOrDefault(a => a.Name == name) is { } a ? a.F : fallback;

    public static NodeProto Node(string op, string name, IEnumerable<string> inputs, IEnumerable<string> outputs, params AttributeProto[] attributes)
    {
        var node = new NodeProto { OpType = op, Name = name };
        node.Input.AddRange(inputs);
        node.Output.AddRange(outputs);
        node.Attribute.AddRange(attributes);
        return node;
    }

    public static AttributeProto IntAttribute(string name, long value) => new() { Name = name, Type = AttributeProto.Types.AttributeType.Int, I = value };
}

using Google.Protobuf;
using Onnx;

namespace FunctionApp.Inference;

/// <summary>A graph input or output: its name, element type and shape (-1 where a dimension is symbolic).</summary>
public sealed record OnnxTensorInfo(string Name, TensorProto.Types.DataType ElementType, IReadOnlyList<long> Shape)
{
    public string ShapeText => "[" + string.Join(",", Shape.Select(d => d < 0 ? "?" : d.ToString(System.Globalization.CultureInfo.InvariantCulture))) + "]";
}

/// <summary>
/// The inputs and outputs an ONNX graph declares. Read with the ONNX protobuf types, but without
/// materialising the weights: parsing a whole 60 MB model takes about half a second, reading its
/// signature a few milliseconds, and validation runs on every cold start.
/// </summary>
public sealed record OnnxSignature(IReadOnlyList<OnnxTensorInfo> Inputs, IReadOnlyList<OnnxTensorInfo> Outputs, long IrVersion)
{
    public static OnnxSignature Read(string path)
    {
        using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 1 << 16);
        return Read(file);
    }

    public static OnnxSignature Read(Stream stream)
    {
        var inputs = new List<OnnxTensorInfo>();
        var outputs = new List<OnnxTensorInfo>();
        long irVersion = 0;
        bool sawGraph = false;
        var input = new CodedInputStream(stream, leaveOpen: true);
        uint tag;
        while ((tag = input.ReadTag()) != 0)
        {
            int field = WireFormat.GetTagFieldNumber(tag);
            if (field == ModelProto.IrVersionFieldNumber && WireFormat.GetTagWireType(tag) == WireFormat.WireType.Varint)
            {
                irVersion = input.ReadInt64();
            }
            else if (field == ModelProto.GraphFieldNumber && WireFormat.GetTagWireType(tag) == WireFormat.WireType.LengthDelimited)
            {
                sawGraph = true;
                int length = input.ReadLength();
                long end = input.Position + length;
                while (input.Position < end)
                {
                    uint graphTag = input.ReadTag();
                    int graphField = WireFormat.GetTagFieldNumber(graphTag);
                    if (graphField is GraphProto.InputFieldNumber or GraphProto.OutputFieldNumber)
                    {
                        var info = new ValueInfoProto();
                        input.ReadMessage(info);
                        (graphField == GraphProto.InputFieldNumber ? inputs : outputs).Add(ToTensorInfo(info));
                    }
                    else
                    {
                        input.SkipLastField();
                    }
                }
            }
            else
            {
                input.SkipLastField();
            }
        }

        if (!sawGraph)
            throw new InvalidDataException("The file is not an ONNX model (it has no graph).");
        return new OnnxSignature(inputs, outputs, irVersion);
    }

    private static OnnxTensorInfo ToTensorInfo(ValueInfoProto info)
    {
        var tensor = info.Type?.TensorType;
        if (tensor is null)
            return new OnnxTensorInfo(info.Name, TensorProto.Types.DataType.Undefined, []);
        var shape = tensor.Shape?.Dim.Select(d => d.ValueCase == TensorShapeProto.Types.Dimension.ValueOneofCase.DimValue ? d.DimValue : -1L).ToArray() ?? [];
        return new OnnxTensorInfo(info.Name, (TensorProto.Types.DataType)tensor.ElemType, shape);
    }
}

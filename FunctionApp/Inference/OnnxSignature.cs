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
/// signature a few milliseconds, and validation runs on every cold start. <see cref="Inputs"/> are the graph's
/// true inputs: older exporters also list every weight (initializer) among the graph inputs, and those are kept
/// apart in <see cref="WeightInputs"/>.
/// </summary>
public sealed record OnnxSignature(IReadOnlyList<OnnxTensorInfo> Inputs, IReadOnlyList<OnnxTensorInfo> Outputs, long IrVersion)
{
    /// <summary>Names listed among the graph inputs that are initializers (weights), as older ONNX exporters write them.</summary>
    public IReadOnlyList<string> WeightInputs { get; init; } = [];

    /// <summary>The tool that wrote the file, as it names itself (such as <c>pytorch</c>, <c>tf2onnx</c> or <c>onnx-caffe2</c>).</summary>
    public string ProducerName { get; init; } = string.Empty;

    /// <summary>Files next to the model that hold weights stored outside it (ONNX external data), relative to the model.</summary>
    public IReadOnlyList<string> ExternalDataFiles { get; init; } = [];

    public static OnnxSignature Read(string path)
    {
        using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 1 << 16);
        return Read(file);
    }

    public static OnnxSignature Read(Stream stream)
    {
        var inputs = new List<OnnxTensorInfo>();
        var outputs = new List<OnnxTensorInfo>();
        var initializers = new HashSet<string>(StringComparer.Ordinal);
        var externalFiles = new SortedSet<string>(StringComparer.Ordinal);
        long irVersion = 0;
        string producer = string.Empty;
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
            else if (field == ModelProto.ProducerNameFieldNumber && WireFormat.GetTagWireType(tag) == WireFormat.WireType.LengthDelimited)
            {
                producer = input.ReadString();
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
                    else if (graphField == GraphProto.InitializerFieldNumber && WireFormat.GetTagWireType(graphTag) == WireFormat.WireType.LengthDelimited)
                    {
                        ReadInitializerName(input, initializers, externalFiles);
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
        return new OnnxSignature(inputs.Where(i => !initializers.Contains(i.Name)).ToList(), outputs, irVersion)
        {
            WeightInputs = inputs.Where(i => initializers.Contains(i.Name)).Select(i => i.Name).ToList(),
            ExternalDataFiles = [.. externalFiles],
            ProducerName = producer,
        };
    }

    /// <summary>Reads an initializer's name and external data location, skipping its values.</summary>
    private static void ReadInitializerName(CodedInputStream input, HashSet<string> names, SortedSet<string> externalFiles)
    {
        int length = input.ReadLength();
        long end = input.Position + length;
        while (input.Position < end)
        {
            uint tag = input.ReadTag();
            int field = WireFormat.GetTagFieldNumber(tag);
            if (field == TensorProto.NameFieldNumber && WireFormat.GetTagWireType(tag) == WireFormat.WireType.LengthDelimited)
            {
                names.Add(input.ReadString());
            }
            else if (field == TensorProto.ExternalDataFieldNumber && WireFormat.GetTagWireType(tag) == WireFormat.WireType.LengthDelimited)
            {
                var entry = new StringStringEntryProto();
                input.ReadMessage(entry);
                if (entry.Key == "location" && entry.Value.Length > 0)
                    externalFiles.Add(entry.Value);
            }
            else
            {
                input.SkipLastField();
            }
        }
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

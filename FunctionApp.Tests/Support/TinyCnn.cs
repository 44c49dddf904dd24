using Google.Protobuf;
using Onnx;

namespace FunctionApp.Tests.Support;

/// <summary>
/// Writes a tiny full ONNX classifier, so tests need no downloaded model: a 1x1 convolution that copies
/// each input channel to one class, ReLU, global average pooling ([N,3,1,1]) and optionally a flatten
/// ([N,3]). With channel order BGR and labels blue, green, red, the class is the image's dominant colour;
/// with a 0-255 pixel scale and std 64, a pure red image scores softmax([0, 0, 255/64]) for red.
/// </summary>
public static class TinyCnn
{
    public const string InputName = "image";
    public const string OutputName = "logits";
    public const int Size = 8;
    public static readonly string[] Labels = ["blue", "green", "red"];

    /// <summary>Writes a model package for the tiny CNN into <paramref name="directory"/> and returns it.</summary>
    public static string WritePackage(string directory, bool flatten = false, string channelOrder = "BGR", string pixelScale = "0-255", string? manifestOverride = null)
    {
        Directory.CreateDirectory(directory);
        File.WriteAllBytes(Path.Combine(directory, "tiny.onnx"), Build(flatten).ToByteArray());
        File.WriteAllLines(Path.Combine(directory, "labels.txt"), Labels);
        var shape = flatten ? "[-1, 3]" : "[-1, 3, 1, 1]";
        File.WriteAllText(Path.Combine(directory, "model.json"), manifestOverride ?? $$"""
            {
              "name": "tiny-cnn",
              "version": "1",
              "onnxFile": "tiny.onnx",
              "inputTensor": "{{InputName}}",
              "outputTensor": "{{OutputName}}",
              "outputShape": {{shape}},
              "preprocessing": {
                "width": {{Size}}, "height": {{Size}}, "layout": "NCHW",
                "channelOrder": "{{channelOrder}}", "pixelScale": "{{pixelScale}}",
                "mean": [0, 0, 0], "std": [64, 64, 64], "resize": "stretch"
              },
              "scores": "logits",
              "labels": "labels.txt"
            }
            """);
        return directory;
    }

    public static ModelProto Build(bool flatten = false, TensorProto.Types.DataType inputType = TensorProto.Types.DataType.Float)
    {
        var graph = new GraphProto { Name = "tiny-cnn" };
        graph.Input.Add(Tensor(InputName, inputType, Dim("N"), Dim(3), Dim(Size), Dim(Size)));
        graph.Initializer.Add(new TensorProto
        {
            Name = "weight",
            DataType = (int)TensorProto.Types.DataType.Float,
            Dims = { 3, 3, 1, 1 },
            FloatData = { 1, 0, 0, 0, 1, 0, 0, 0, 1 },
        });
        graph.Initializer.Add(new TensorProto { Name = "bias", DataType = (int)TensorProto.Types.DataType.Float, Dims = { 3 }, FloatData = { 0, 0, 0 } });
        graph.Node.Add(Node("Conv", ["image", "weight", "bias"], ["conv"]));
        graph.Node.Add(Node("Relu", ["conv"], ["relu"]));
        if (flatten)
        {
            graph.Node.Add(Node("GlobalAveragePool", ["relu"], ["pooled"]));
            graph.Node.Add(Node("Flatten", ["pooled"], [OutputName]));
            graph.Output.Add(Tensor(OutputName, TensorProto.Types.DataType.Float, Dim("N"), Dim(3)));
        }
        else
        {
            graph.Node.Add(Node("GlobalAveragePool", ["relu"], [OutputName]));
            graph.Output.Add(Tensor(OutputName, TensorProto.Types.DataType.Float, Dim("N"), Dim(3), Dim(1), Dim(1)));
        }

        var model = new ModelProto { IrVersion = 7, ProducerName = "FunctionApp.Tests", Graph = graph };
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = string.Empty, Version = 13 });
        return model;
    }

    private static NodeProto Node(string op, string[] inputs, string[] outputs)
    {
        var node = new NodeProto { OpType = op, Name = op.ToLowerInvariant() + "_" + outputs[0] };
        node.Input.AddRange(inputs);
        node.Output.AddRange(outputs);
        return node;
    }

    private static TensorShapeProto.Types.Dimension Dim(long value) => new() { DimValue = value };

    private static TensorShapeProto.Types.Dimension Dim(string symbol) => new() { DimParam = symbol };

    private static ValueInfoProto Tensor(string name, TensorProto.Types.DataType type, params TensorShapeProto.Types.Dimension[] dims)
    {
        var shape = new TensorShapeProto();
        shape.Dim.AddRange(dims);
        return new ValueInfoProto
        {
            Name = name,
            Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)type, Shape = shape } },
        };
    }
}

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

    /// <summary>The labels of the grayscale variant: class 0 for dark images, class 1 for light ones.</summary>
    public static readonly string[] GrayLabels = ["dark", "light"];

    /// <summary>
    /// A variant of the tiny classifier for the shapes real exports come in: grayscale (1 channel: dark or light,
    /// from 0-1 pixels) or colour (3 channels, as <see cref="Build"/>); NCHW or NHWC (a Transpose first); a dynamic or
    /// fixed batch; weights also listed among the graph inputs, as ONNX exporters before IR 4 wrote them; and a
    /// Softmax at the end, so the output already holds probabilities. The output is always [N, classes].
    /// </summary>
    public static ModelProto BuildVariant(int channels = 3, bool nhwc = false, bool dynamicBatch = true, bool weightsAmongInputs = false, bool softmax = false, string producer = "FunctionApp.Tests")
    {
        var graph = new GraphProto { Name = $"tiny-{channels}" };
        var batch = dynamicBatch ? Dim("N") : Dim(1);
        graph.Input.Add(nhwc
            ? Tensor(InputName, TensorProto.Types.DataType.Float, batch, Dim(Size), Dim(Size), Dim(channels))
            : Tensor(InputName, TensorProto.Types.DataType.Float, batch, Dim(channels), Dim(Size), Dim(Size)));
        int classes = channels == 1 ? 2 : 3;
        var weight = new TensorProto { Name = "weight", DataType = (int)TensorProto.Types.DataType.Float, Dims = { classes, channels, 1, 1 } };
        var bias = new TensorProto { Name = "bias", DataType = (int)TensorProto.Types.DataType.Float, Dims = { classes } };
        if (channels == 1)
        {
            // dark = relu(0.5 - x), light = relu(x - 0.5)
            weight.FloatData.AddRange([-1f, 1f]);
            bias.FloatData.AddRange([0.5f, -0.5f]);
        }
        else
        {
            weight.FloatData.AddRange([1, 0, 0, 0, 1, 0, 0, 0, 1]);
            bias.FloatData.AddRange([0, 0, 0]);
        }

        graph.Initializer.Add(weight);
        graph.Initializer.Add(bias);
        if (weightsAmongInputs)
        {
            graph.Input.Add(Tensor("weight", TensorProto.Types.DataType.Float, Dim(classes), Dim(channels), Dim(1), Dim(1)));
            graph.Input.Add(Tensor("bias", TensorProto.Types.DataType.Float, Dim(classes)));
        }

        var first = InputName;
        if (nhwc)
        {
            var transpose = Node("Transpose", [InputName], ["nchw"]);
            transpose.Attribute.Add(new AttributeProto { Name = "perm", Type = AttributeProto.Types.AttributeType.Ints, Ints = { 0, 3, 1, 2 } });
            graph.Node.Add(transpose);
            first = "nchw";
        }

        graph.Node.Add(Node("Conv", [first, "weight", "bias"], ["conv"]));
        graph.Node.Add(Node("Relu", ["conv"], ["relu"]));
        graph.Node.Add(Node("GlobalAveragePool", ["relu"], ["pooled"]));
        var output = softmax ? "probabilities" : OutputName;
        graph.Node.Add(Node("Flatten", ["pooled"], [softmax ? "flat" : output]));
        if (softmax)
        {
            var node = Node("Softmax", ["flat"], [output]);
            node.Attribute.Add(new AttributeProto { Name = "axis", Type = AttributeProto.Types.AttributeType.Int, I = 1 });
            graph.Node.Add(node);
        }

        graph.Output.Add(Tensor(output, TensorProto.Types.DataType.Float, dynamicBatch ? Dim("N") : Dim(1), Dim(classes)));
        var model = new ModelProto { IrVersion = 7, ProducerName = producer, Graph = graph };
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = string.Empty, Version = 13 });
        return model;
    }

    /// <summary>Writes a variant as an ONNX file (with a labels file beside it) and returns the ONNX file's path.</summary>
    public static string WriteVariant(string directory, int channels = 3, bool nhwc = false, bool dynamicBatch = true, bool weightsAmongInputs = false, bool softmax = false, string producer = "FunctionApp.Tests")
    {
        Directory.CreateDirectory(directory);
        var path = Path.Combine(directory, "model.onnx");
        File.WriteAllBytes(path, BuildVariant(channels, nhwc, dynamicBatch, weightsAmongInputs, softmax, producer).ToByteArray());
        File.WriteAllLines(Path.Combine(directory, "labels.txt"), channels == 1 ? GrayLabels : ["red", "green", "blue"]);
        return path;
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

using Google.Protobuf;
using Onnx;

namespace FunctionApp.Tests.Support;

/// <summary>
/// A small residual CNN with seeded random weights, built the way exported image models are: Conv → BatchNormalization
/// → ReLU, MaxPool, Conv → ReLU, a residual Add → ReLU, global average pooling, Flatten and a Gemm to three classes
/// (input [N,3,16,16], output logits [N,3]). Its answers mean nothing; it exercises every operator the quantizer rewrites.
/// </summary>
public static class SmallCnn
{
    public const string InputName = "image";
    public const string OutputName = "logits";
    public const int Size = 16;
    public static readonly string[] Labels = ["blue", "green", "red"];

    public static ModelProto Build(int opset = 13, int seed = 1)
    {
        var random = new Random(seed);
        var graph = new GraphProto { Name = "small-cnn" };
        graph.Input.Add(Tensor(InputName, Dim("N"), Dim(3), Dim(Size), Dim(Size)));
        graph.Initializer.Add(Random("conv1_w", random, 0.3f, 8, 3, 3, 3));
        graph.Initializer.Add(Positive("bn_gamma", random, 8));
        graph.Initializer.Add(Random("bn_beta", random, 0.2f, 8));
        graph.Initializer.Add(Random("bn_mean", random, 0.5f, 8));
        graph.Initializer.Add(Positive("bn_var", random, 8));
        graph.Initializer.Add(Random("conv2_w", random, 0.2f, 8, 8, 3, 3));
        graph.Initializer.Add(Random("conv2_b", random, 0.1f, 8));
        graph.Initializer.Add(Random("fc_w", random, 0.5f, 3, 8));
        graph.Initializer.Add(Random("fc_b", random, 0.1f, 3));

        graph.Node.Add(Node("Conv", ["image", "conv1_w"], ["conv1"], Ints("pads", 1, 1, 1, 1), Ints("kernel_shape", 3, 3)));
        graph.Node.Add(Node("BatchNormalization", ["conv1", "bn_gamma", "bn_beta", "bn_mean", "bn_var"], ["bn1"]));
        graph.Node.Add(Node("Relu", ["bn1"], ["relu1"]));
        graph.Node.Add(Node("MaxPool", ["relu1"], ["pool1"], Ints("kernel_shape", 2, 2), Ints("strides", 2, 2)));
        graph.Node.Add(Node("Conv", ["pool1", "conv2_w", "conv2_b"], ["conv2"], Ints("pads", 1, 1, 1, 1), Ints("kernel_shape", 3, 3)));
        graph.Node.Add(Node("Relu", ["conv2"], ["relu2"]));
        graph.Node.Add(Node("Add", ["relu2", "pool1"], ["sum"]));
        graph.Node.Add(Node("Relu", ["sum"], ["relu3"]));
        graph.Node.Add(Node("GlobalAveragePool", ["relu3"], ["pooled"]));
        graph.Node.Add(Node("Flatten", ["pooled"], ["flat"]));
        var gemm = Node("Gemm", ["flat", "fc_w", "fc_b"], [OutputName]);
        gemm.Attribute.Add(new AttributeProto { Name = "transB", Type = AttributeProto.Types.AttributeType.Int, I = 1 });
        graph.Node.Add(gemm);
        graph.Output.Add(Tensor(OutputName, Dim("N"), Dim(3)));

        var model = new ModelProto { IrVersion = 7, ProducerName = "FunctionApp.Tests", Graph = graph };
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = string.Empty, Version = opset });
        return model;
    }

    /// <summary>Writes the model as a package (0-255 pixels, mean 128, std 64) and returns its folder.</summary>
    public static string WritePackage(string directory, string version = "1")
    {
        Directory.CreateDirectory(directory);
        File.WriteAllBytes(Path.Combine(directory, "small.onnx"), Build().ToByteArray());
        File.WriteAllLines(Path.Combine(directory, "labels.txt"), Labels);
        File.WriteAllText(Path.Combine(directory, "model.json"), $$"""
            {
              "name": "small-cnn",
              "version": "{{version}}",
              "onnxFile": "small.onnx",
              "inputTensor": "{{InputName}}",
              "outputTensor": "{{OutputName}}",
              "outputShape": [-1, 3],
              "preprocessing": {
                "width": {{Size}}, "height": {{Size}}, "layout": "NCHW",
                "channelOrder": "RGB", "pixelScale": "0-255",
                "mean": [128, 128, 128], "std": [64, 64, 64], "resize": "stretch"
              },
              "scores": "logits",
              "labels": "labels.txt"
            }
            """);
        return directory;
    }

    private static TensorProto Random(string name, Random random, float amplitude, params long[] dims)
    {
        var tensor = new TensorProto { Name = name, DataType = (int)TensorProto.Types.DataType.Float };
        tensor.Dims.AddRange(dims);
        long count = dims.Aggregate(1L, (a, b) => a * b);
        for (long i = 0; i < count; i++)
            tensor.FloatData.Add(amplitude * (float)((random.NextDouble() * 2) - 1));
        return tensor;
    }

    private static TensorProto Positive(string name, Random random, params long[] dims)
    {
        var tensor = new TensorProto { Name = name, DataType = (int)TensorProto.Types.DataType.Float };
        tensor.Dims.AddRange(dims);
        long count = dims.Aggregate(1L, (a, b) => a * b);
        for (long i = 0; i < count; i++)
            tensor.FloatData.Add(0.5f + (float)random.NextDouble());
        return tensor;
    }

    private static AttributeProto Ints(string name, params long[] values)
    {
        var attribute = new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.Ints };
        attribute.Ints.AddRange(values);
        return attribute;
    }

    private static NodeProto Node(string op, string[] inputs, string[] outputs, params AttributeProto[] attributes)
    {
        var node = new NodeProto { OpType = op, Name = op.ToLowerInvariant() + "_" + outputs[0] };
        node.Input.AddRange(inputs);
        node.Output.AddRange(outputs);
        node.Attribute.AddRange(attributes);
        return node;
    }

    private static TensorShapeProto.Types.Dimension Dim(long value) => new() { DimValue = value };

    private static TensorShapeProto.Types.Dimension Dim(string symbol) => new() { DimParam = symbol };

    private static ValueInfoProto Tensor(string name, params TensorShapeProto.Types.Dimension[] dims)
    {
        var shape = new TensorShapeProto();
        shape.Dim.AddRange(dims);
        return new ValueInfoProto { Name = name, Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)TensorProto.Types.DataType.Float, Shape = shape } } };
    }
}

using FunctionApp.Quantization;
using FunctionApp.Tests.Support;
using Google.Protobuf;
using Microsoft.ML.OnnxRuntime;
using Onnx;

namespace FunctionApp.Tests.Quantization;

/// <summary>Rounding weights up or down for least output error instead of to the nearest step.</summary>
public sealed class WeightRoundingTests
{
    private const int Channels = 6;
    private const int Filters = 4;
    private const int Size = 10;

    [Fact]
    public void RoundChannel_IndependentInputs_KeepsRoundToNearest()
    {
        // With H = I the error is Σ e², which round-to-nearest already minimizes weight by weight.
        float[] w = [0.4f, -1.3f, 2.45f, 0.6f];
        float[] h = [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1];
        sbyte[] q = [0, -1, 2, 1];

        int moved = WeightRounding.RoundChannel(w, 1f, h, q);

        Assert.Equal(0, moved);
        Assert.Equal([0, -1, 2, 1], q);
    }

    [Fact]
    public void RoundChannel_InputsAlwaysEqual_RoundsSoThatTheSumIsKept()
    {
        // Three inputs that always carry the same value: the output sees only the sum of the weights, 1.2. Rounded to
        // nearest, every weight goes to 0 and the sum to 0; rounding one of them up keeps the sum at 1.
        float[] w = [0.4f, 0.4f, 0.4f];
        float[] h = [1, 1, 1, 1, 1, 1, 1, 1, 1];
        sbyte[] q = [0, 0, 0];

        int moved = WeightRounding.RoundChannel(w, 1f, h, q);

        Assert.Equal(1, moved);
        Assert.Equal(1, q.Sum(v => v));
        Assert.All(q, v => Assert.InRange(v, 0, 1));
    }

    [Fact]
    public void OptimizeSequential_SmallCnn_QuantizedModelCloserToFloatThanRoundToNearest()
    {
        var prepared = GraphPreparation.Prepare(SmallCnn.Build());
        var random = new Random(5);
        var calibration = Enumerable.Range(0, 32).Select(_ => Image(random)).ToList();
        using var calibrator = new ActivationCalibrator(prepared, SmallCnn.InputName, [1, 3, SmallCnn.Size, SmallCnn.Size], intraOpThreads: 1);
        foreach (var image in calibration)
            calibrator.Add(image);
        var ranges = calibrator.Ranges();
        var options = new QdqOptions();

        var rounded = WeightRounding.OptimizeSequential(prepared, ranges, options, SmallCnn.InputName, [1, 3, SmallCnn.Size, SmallCnn.Size], calibration, intraOpThreads: 1);

        Assert.Equal(2, rounded.Count);
        var nearest = QdqQuantizer.Quantize(prepared, ranges, options, out _);
        var chosen = QdqQuantizer.Quantize(prepared, ranges, options with { RoundedWeights = rounded }, out var summary);
        Assert.Equal(2, summary.RoundedWeights);
        var heldOut = Enumerable.Range(0, 32).Select(_ => Image(random)).ToList();
        double nearestError = LogitError(prepared, nearest, heldOut);
        double chosenError = LogitError(prepared, chosen, heldOut);
        Assert.True(chosenError < nearestError, $"logit error {chosenError} with the chosen rounding, {nearestError} rounded to nearest");
    }

    private static float[] Image(Random random) =>
        Enumerable.Range(0, 3 * SmallCnn.Size * SmallCnn.Size).Select(_ => -2f + (4f * (float)random.NextDouble())).ToArray();

    private static double LogitError(ModelProto reference, ModelProto candidate, List<float[]> images)
    {
        using var a = new InferenceSession(reference.ToByteArray());
        using var b = new InferenceSession(candidate.ToByteArray());
        double error = 0;
        foreach (var image in images)
        {
            using var feed = OrtValue.CreateTensorValueFromMemory(image, [1, 3, SmallCnn.Size, SmallCnn.Size]);
            using var runOptions = new RunOptions();
            using var x = a.Run(runOptions, [SmallCnn.InputName], [feed], [SmallCnn.OutputName]);
            using var y = b.Run(runOptions, [SmallCnn.InputName], [feed], [SmallCnn.OutputName]);
            var expected = x[0].GetTensorDataAsSpan<float>();
            var actual = y[0].GetTensorDataAsSpan<float>();
            for (int i = 0; i < expected.Length; i++)
                error += (actual[i] - expected[i]) * (double)(actual[i] - expected[i]);
        }

        return error;
    }

    private static float[] Input(Random random)
    {
        var input = new float[Channels * Size * Size];
        for (int p = 0; p < Size * Size; p++)
        {
            float shared = (float)random.NextDouble();
            for (int c = 0; c < Channels; c++)
                input[(c * Size * Size) + p] = Math.Max(0f, shared + (0.3f * (float)(random.NextDouble() - 0.5)));
        }

        return input;
    }

    private static float[] Dequantize(sbyte[] values, float[] scales) =>
        values.Select((v, i) => v * scales[i / (Channels * 9)]).ToArray();

    private static double OutputError(float[] reference, float[] candidate, List<float[]> inputs)
    {
        using var a = new InferenceSession(Conv(reference).ToByteArray());
        using var b = new InferenceSession(Conv(candidate).ToByteArray());
        double error = 0;
        foreach (var input in inputs)
        {
            using var feed = OrtValue.CreateTensorValueFromMemory(input, [1, Channels, Size, Size]);
            using var runOptions = new RunOptions();
            using var x = a.Run(runOptions, ["x"], [feed], ["y"]);
            using var y = b.Run(runOptions, ["x"], [feed], ["y"]);
            var expected = x[0].GetTensorDataAsSpan<float>();
            var actual = y[0].GetTensorDataAsSpan<float>();
            for (int i = 0; i < expected.Length; i++)
                error += (actual[i] - expected[i]) * (double)(actual[i] - expected[i]);
        }

        return error;
    }

    /// <summary>x [1, 6, 10, 10] → 3×3 Conv (4 filters, stride 2, pads 1,1,0,0 as the bundled model's) → y.</summary>
    private static ModelProto Conv(float[] weight)
    {
        var graph = new GraphProto { Name = "conv" };
        graph.Input.Add(Tensor("x", 1, Channels, Size, Size));
        graph.Output.Add(Tensor("y", 1, Filters, Size / 2, Size / 2));
        var w = new TensorProto { Name = "w", DataType = (int)TensorProto.Types.DataType.Float };
        w.Dims.AddRange([Filters, Channels, 3, 3]);
        w.FloatData.AddRange(weight);
        graph.Initializer.Add(w);
        var node = new NodeProto { OpType = "Conv", Name = "conv" };
        node.Input.AddRange(["x", "w"]);
        node.Output.Add("y");
        node.Attribute.Add(Ints("kernel_shape", 3, 3));
        node.Attribute.Add(Ints("strides", 2, 2));
        node.Attribute.Add(Ints("pads", 1, 1, 0, 0));
        graph.Node.Add(node);
        var model = new ModelProto { IrVersion = 7, Graph = graph };
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = string.Empty, Version = 13 });
        return model;
    }

    private static AttributeProto Ints(string name, params long[] values)
    {
        var attribute = new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.Ints };
        attribute.Ints.AddRange(values);
        return attribute;
    }

    private static ValueInfoProto Tensor(string name, params long[] dims)
    {
        var shape = new TensorShapeProto();
        foreach (var d in dims)
            shape.Dim.Add(new TensorShapeProto.Types.Dimension { DimValue = d });
        return new ValueInfoProto { Name = name, Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)TensorProto.Types.DataType.Float, Shape = shape } } };
    }
}

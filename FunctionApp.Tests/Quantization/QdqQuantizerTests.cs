using FunctionApp.Inference;
using FunctionApp.Quantization;
using FunctionApp.Tests.Support;
using Google.Protobuf;
using Microsoft.ML.OnnxRuntime;
using Onnx;

namespace FunctionApp.Tests.Quantization;

public sealed class QdqQuantizerTests : IDisposable
{
    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    private static float[] RandomImage(Random random, int size, float low = -2f, float high = 2f) =>
        Enumerable.Range(0, 3 * size * size).Select(_ => low + ((high - low) * (float)random.NextDouble())).ToArray();

    private static float[] Run(ModelProto model, float[] input, int size, GraphOptimizationLevel level = GraphOptimizationLevel.ORT_ENABLE_ALL)
    {
        // As the app runs a model (its session settings), on whatever CPU the tests run.
        using var options = new OnnxRuntimeOptions { IntraOpThreads = 1 }.CreateSessionOptions(level);
        using var session = new InferenceSession(model.ToByteArray(), options);
        using var feed = OrtValue.CreateTensorValueFromMemory(input, [1, 3, size, size]);
        using var runOptions = new RunOptions();
        using var outputs = session.Run(runOptions, [model.Graph.Input[0].Name], [feed], [model.Graph.Output[0].Name]);
        return outputs[0].GetTensorDataAsSpan<float>().ToArray();
    }

    private static (ModelProto Prepared, ModelProto Quantized, QdqSummary Summary) Quantize(ModelProto model, int size, QuantType type = QuantType.U8, int images = 16)
    {
        var prepared = GraphPreparation.Prepare(model);
        var random = new Random(3);
        using var calibrator = new ActivationCalibrator(prepared, model.Graph.Input[0].Name, [1, 3, size, size], intraOpThreads: 1);
        for (int i = 0; i < images; i++)
            calibrator.Add(RandomImage(random, size));
        var quantized = QdqQuantizer.Quantize(prepared, calibrator.Ranges(), new QdqOptions { Activations = type }, out var summary);
        return (prepared, quantized, summary);
    }

    [Fact]
    public void Prepare_FoldsBatchNormIntoTheConvolution_AndKeepsTheOutputs()
    {
        var model = SmallCnn.Build(opset: 9);
        var input = RandomImage(new Random(1), SmallCnn.Size);
        var notes = new List<string>();

        var prepared = GraphPreparation.Prepare(model, notes);

        Assert.DoesNotContain(prepared.Graph.Node, n => n.OpType == "BatchNormalization");
        Assert.Equal(3, prepared.Graph.Node.Single(n => n.Name == "conv_conv1").Input.Count);
        Assert.Equal(13, prepared.OpsetImport.Single().Version);
        Assert.Contains(notes, n => n.Contains("folded 1 BatchNormalization", StringComparison.Ordinal));
        Assert.Contains(notes, n => n.Contains("from opset 9 to 13", StringComparison.Ordinal));
        var expected = Run(model, input, SmallCnn.Size, GraphOptimizationLevel.ORT_DISABLE_ALL);
        var actual = Run(prepared, input, SmallCnn.Size, GraphOptimizationLevel.ORT_DISABLE_ALL);
        Assert.All(expected.Zip(actual), p => Assert.Equal(p.First, p.Second, 4));
    }

    [Fact]
    public void Prepare_OperatorWhoseMeaningChanged_IsRefusedWithTheReason()
    {
        var model = TinyCnn.BuildVariant(softmax: true);
        model.OpsetImport[0].Version = 11;

        var ex = Assert.Throws<NotSupportedException>(() => GraphPreparation.Prepare(model));

        Assert.Contains("Softmax", ex.Message, StringComparison.Ordinal);
        Assert.Contains("opset 13", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Quantize_SmallCnn_WritesQdqPairsInt8WeightsAndInt32Biases()
    {
        var (_, quantized, summary) = Quantize(SmallCnn.Build(), SmallCnn.Size);
        var graph = quantized.Graph;
        var initializers = graph.Initializer.ToDictionary(i => i.Name);

        Assert.Equal(2, summary.QuantizedNodes["Conv"]);
        Assert.Equal(1, summary.QuantizedNodes["Add"]);
        Assert.Equal(1, summary.QuantizedNodes["MaxPool"]);
        Assert.False(summary.QuantizedNodes.ContainsKey("Gemm")); // its output is the graph's: kept float
        Assert.Equal(3, summary.FoldedActivations);
        Assert.DoesNotContain(graph.Node, n => n.OpType == "Relu");

        // Every convolution reads dequantized int8 weights (one scale per output channel) and an int32 bias.
        foreach (var conv in graph.Node.Where(n => n.OpType == "Conv"))
        {
            var weightDq = graph.Node.Single(n => n.Output[0] == conv.Input[1]);
            Assert.Equal("DequantizeLinear", weightDq.OpType);
            Assert.Equal((int)TensorProto.Types.DataType.Int8, initializers[weightDq.Input[0]].DataType);
            Assert.Equal([8L], initializers[weightDq.Input[1]].Dims);
            var biasDq = graph.Node.Single(n => n.Output[0] == conv.Input[2]);
            Assert.Equal((int)TensorProto.Types.DataType.Int32, initializers[biasDq.Input[0]].DataType);
            var inputDq = graph.Node.Single(n => n.Output[0] == conv.Input[0]);
            Assert.Equal("DequantizeLinear", inputDq.OpType);
            Assert.Equal((int)TensorProto.Types.DataType.Uint8, initializers[inputDq.Input[2]].DataType);
        }

        // MaxPool's output shares its input's scale and zero point, so the pair around it can drop away.
        var pool = graph.Node.Single(n => n.OpType == "MaxPool");
        var before = graph.Node.Single(n => n.Output[0] == pool.Input[0]);
        var after = graph.Node.Single(n => n.OpType == "QuantizeLinear" && n.Input[0] == pool.Output[0]);
        Assert.Equal(initializers[before.Input[1]].RawData, initializers[after.Input[1]].RawData);
        Assert.Equal(initializers[before.Input[2]].RawData, initializers[after.Input[2]].RawData);

        // No float weight is left behind, and the graph's output stays float.
        Assert.DoesNotContain(graph.Initializer, i => i.Name is "conv1_w" or "conv2_w" or "bn_gamma");
        Assert.Equal(SmallCnn.OutputName, graph.Output.Single().Name);
        Assert.DoesNotContain(graph.Node, n => n.OpType == "QuantizeLinear" && n.Input[0] == SmallCnn.OutputName);
    }

    [Theory]
    [InlineData(QuantType.U8)]
    [InlineData(QuantType.S8)]
    public void Quantize_SmallCnn_StaysCloseToTheFloatModel(QuantType type)
    {
        var model = SmallCnn.Build();
        var (prepared, quantized, _) = Quantize(model, SmallCnn.Size, type);
        var random = new Random(11);

        double worst = 0, range = 0;
        for (int i = 0; i < 20; i++)
        {
            var input = RandomImage(random, SmallCnn.Size);
            var expected = Run(prepared, input, SmallCnn.Size);
            var actual = Run(quantized, input, SmallCnn.Size);
            worst = Math.Max(worst, expected.Zip(actual).Max(p => Math.Abs(p.First - p.Second)));
            range = Math.Max(range, expected.Max(Math.Abs));
        }

        // Eight bits through three quantized layers: within a few percent of the logits' magnitude, not equal.
        Assert.True(worst > 0, "the int8 model gave exactly the float answers: nothing was quantized");
        Assert.True(worst < 0.05 * range, $"worst error {worst} against logits up to {range}");
    }

    [Fact]
    public void Quantize_OnnxRuntimeFusesThePairsIntoQLinearOperators()
    {
        var (_, quantized, _) = Quantize(SmallCnn.Build(), SmallCnn.Size);
        var ops = OptimizedGraph.OpTypes(quantized, _temp.Path, "small.int8");
        Assert.Equal(2, ops.Count(o => o == "QLinearConv"));
        Assert.Contains("QLinearAdd", ops);
        Assert.DoesNotContain("Conv", ops);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void AppSessions_RunInt8WeightsExactlyOnlyWhereTheCpuLacksVnni(bool exactInt8Products)
    {
        // The weights of the QLinearConvs ONNX Runtime runs: int8 for its U8S8 kernels, uint8 for its exact U8U8 ones.
        var (_, quantized, _) = Quantize(SmallCnn.Build(), SmallCnn.Size);
        var graph = OptimizedGraph.Graph(quantized, _temp.Path, $"exact.{exactInt8Products}",
            new OnnxRuntimeOptions { IntraOpThreads = 1, ExactInt8Products = exactInt8Products }.CreateSessionOptions(GraphOptimizationLevel.ORT_ENABLE_EXTENDED));
        var initializers = graph.Initializer.ToDictionary(i => i.Name);
        var weightTypes = graph.Node.Where(n => n.OpType == "QLinearConv").Select(n => initializers[n.Input[3]].DataType).Distinct().ToList();
        var expected = exactInt8Products && !OnnxRuntimeOptions.CpuHasVnni.Value ? TensorProto.Types.DataType.Uint8 : TensorProto.Types.DataType.Int8;
        Assert.Equal([(int)expected], weightTypes);
    }

    [Fact]
    public void CpuHasVnni_AgreesWithTheFlagsTheKernelReports()
    {
        // Linux names the CPU's features in /proc/cpuinfo; AVX-512 VNNI counts only where AVX-512 itself is usable.
        var flags = File.ReadLines("/proc/cpuinfo").First(l => l.StartsWith("flags", StringComparison.Ordinal)).Split(' ', StringSplitOptions.RemoveEmptyEntries).ToHashSet();
        bool vnni = (flags.Contains("avx512_vnni") && flags.Contains("avx512f")) || flags.Contains("avx_vnni");
        Assert.Equal(vnni, OnnxRuntimeOptions.CpuHasVnni.Value);
    }

    [Fact]
    public void Quantize_TinyCnn_ReluFoldedAndPoolingLeftFloat()
    {
        var (_, quantized, summary) = Quantize(TinyCnn.Build(), TinyCnn.Size);

        Assert.Equal(1, summary.QuantizedNodes["Conv"]);
        Assert.Equal(1, summary.FoldedActivations);
        Assert.Contains(summary.FloatNodes, n => n.StartsWith("GlobalAveragePool", StringComparison.Ordinal));
        var input = RandomImage(new Random(5), TinyCnn.Size, 0f, 2f);
        var expected = Run(TinyCnn.Build(), input, TinyCnn.Size);
        var actual = Run(quantized, input, TinyCnn.Size);
        Assert.All(expected.Zip(actual), p => Assert.Equal(p.First, p.Second, 1));
    }

    [Fact]
    public void Quantize_ExcludedNode_StaysFloat()
    {
        var prepared = GraphPreparation.Prepare(SmallCnn.Build());
        var random = new Random(3);
        using var calibrator = new ActivationCalibrator(prepared, SmallCnn.InputName, [1, 3, SmallCnn.Size, SmallCnn.Size], intraOpThreads: 1);
        calibrator.Add(RandomImage(random, SmallCnn.Size));

        var quantized = QdqQuantizer.Quantize(prepared, calibrator.Ranges(), new QdqOptions { Excluded = new HashSet<string> { "bn1" } }, out var summary);

        Assert.Equal(1, summary.QuantizedNodes["Conv"]);
        var first = quantized.Graph.Node.Single(n => n.OpType == "Conv" && n.Input.Contains("conv1_w"));
        Assert.Contains(quantized.Graph.Initializer, i => i.Name == "conv1_w" && i.DataType == (int)TensorProto.Types.DataType.Float);
        Assert.Contains(summary.FloatNodes, n => n.StartsWith("Conv", StringComparison.Ordinal));
        Assert.NotNull(first);
    }

    [Fact]
    public void Quantize_KeepInputLayerFloat_LeavesTheConvolutionThatReadsTheImageFloat()
    {
        var prepared = GraphPreparation.Prepare(SmallCnn.Build());
        using var calibrator = new ActivationCalibrator(prepared, SmallCnn.InputName, [1, 3, SmallCnn.Size, SmallCnn.Size], intraOpThreads: 1);
        calibrator.Add(RandomImage(new Random(3), SmallCnn.Size));

        var quantized = QdqQuantizer.Quantize(prepared, calibrator.Ranges(), new QdqOptions { KeepInputLayerFloat = true }, out var summary);

        Assert.Equal(1, summary.QuantizedNodes["Conv"]);
        Assert.DoesNotContain(quantized.Graph.Node, n => n.OpType == "QuantizeLinear" && n.Input[0] == SmallCnn.InputName);
        Assert.Equal(SmallCnn.InputName, quantized.Graph.Node.Single(n => n.Name == "conv_conv1").Input[0]);
    }

    [Fact]
    public void Calibrate_MinMaxCoversEverythingSeen_PercentileClipsTheTails()
    {
        var prepared = GraphPreparation.Prepare(SmallCnn.Build());
        var shape = new long[] { 1, 3, SmallCnn.Size, SmallCnn.Size };
        using var minMax = new ActivationCalibrator(prepared, SmallCnn.InputName, shape, CalibrationMethod.MinMax, intraOpThreads: 1);
        using var percentile = new ActivationCalibrator(prepared, SmallCnn.InputName, shape, CalibrationMethod.Percentile, intraOpThreads: 1, percentile: 99);
        var random = new Random(9);
        float low = float.MaxValue, high = float.MinValue;
        for (int i = 0; i < 8; i++)
        {
            var image = RandomImage(random, SmallCnn.Size);
            low = Math.Min(low, image.Min());
            high = Math.Max(high, image.Max());
            minMax.Add(image);
            percentile.Add(image);
        }

        var all = minMax.Ranges();
        var clipped = percentile.Ranges();

        Assert.Equal(new TensorRange(low, high), all[SmallCnn.InputName]);
        Assert.Contains("relu3", minMax.Tensors);
        Assert.True(all["relu3"].Min >= 0f);
        Assert.InRange(clipped[SmallCnn.InputName].Max, high - 0.2f, high - 1e-4f);
        Assert.InRange(clipped[SmallCnn.InputName].Min, low + 1e-4f, low + 0.2f);
        Assert.Throws<ArgumentOutOfRangeException>(() => new ActivationCalibrator(prepared, SmallCnn.InputName, shape, CalibrationMethod.Percentile, percentile: 40));
        using var unused = new ActivationCalibrator(prepared, SmallCnn.InputName, shape, intraOpThreads: 1);
        Assert.Throws<InvalidOperationException>(() => unused.Ranges());
    }
}

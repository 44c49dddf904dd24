using System.Runtime.InteropServices;
using FunctionApp.Quantization;
using FunctionApp.Tests.Support;
using Google.Protobuf;
using Microsoft.ML.OnnxRuntime;
using Onnx;

namespace FunctionApp.Tests.Quantization;

/// <summary>Bias correction and the float residual stream, on the small CNN (Conv → BN → ReLU, MaxPool, Conv → ReLU, residual Add → ReLU, Gemm).</summary>
public sealed class BiasCorrectionTests : IDisposable
{
    private static readonly long[] Shape = [1, 3, SmallCnn.Size, SmallCnn.Size];
    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    private static List<float[]> Images(int seed, int count)
    {
        var random = new Random(seed);
        return Enumerable.Range(0, count).Select(_ => Enumerable.Range(0, 3 * SmallCnn.Size * SmallCnn.Size).Select(_ => -2f + (4f * (float)random.NextDouble())).ToArray()).ToList();
    }

    private static (ModelProto Prepared, IReadOnlyDictionary<string, TensorRange> Ranges, List<float[]> Inputs) Calibrate()
    {
        var prepared = GraphPreparation.Prepare(SmallCnn.Build());
        var inputs = Images(3, 16);
        using var calibrator = new ActivationCalibrator(prepared, SmallCnn.InputName, Shape, intraOpThreads: 1);
        foreach (var input in inputs)
            calibrator.Add(input);
        return (prepared, calibrator.Ranges(), inputs);
    }

    /// <summary>The dequantized bias a quantized node reads, and its scale per channel.</summary>
    private static (double[] Values, double[] Scales) Bias(ModelProto quantized, string nodeName)
    {
        var graph = quantized.Graph;
        var dq = graph.Node.Single(n => n.Output[0] == graph.Node.Single(c => c.Name == nodeName).Input[2]);
        var values = MemoryMarshal.Cast<byte, int>(graph.Initializer.Single(i => i.Name == dq.Input[0]).RawData.Span).ToArray();
        var scales = MemoryMarshal.Cast<byte, float>(graph.Initializer.Single(i => i.Name == dq.Input[1]).RawData.Span).ToArray();
        return (values.Select((v, i) => v * (double)scales[i]).ToArray(), scales.Select(v => (double)v).ToArray());
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Quantize_KeepAddsFloat_AnAddWhoseSumNothingQuantizedReads_StaysFloat(bool keepAddsFloat)
    {
        var (prepared, ranges, _) = Calibrate();

        // The pooling after the sum left float: with KeepAddsFloat nothing quantized reads the sum, so the Add stays float.
        var options = new QdqOptions { KeepAddsFloat = keepAddsFloat, Excluded = new HashSet<string>(StringComparer.Ordinal) { "pooled" } };
        var quantized = QdqQuantizer.Quantize(prepared, ranges, options, out var summary);

        Assert.Equal(2, summary.QuantizedNodes["Conv"]);
        Assert.Equal(!keepAddsFloat, summary.QuantizedNodes.ContainsKey("Add"));
        var graph = quantized.Graph;
        var add = graph.Node.Single(n => n.OpType == "Add");
        Assert.All(add.Input, i => Assert.Equal("DequantizeLinear", graph.Node.Single(n => n.Output[0] == i).OpType));
        Assert.Equal(keepAddsFloat, graph.Node.Any(n => n.OpType == "Relu" && n.Input[0] == add.Output[0]));
        Assert.Equal(!keepAddsFloat, graph.Node.Any(n => n.OpType == "QuantizeLinear" && n.Input[0] == add.Output[0]));

        var ops = OptimizedGraph.OpTypes(quantized, _temp.Path, "adds");
        Assert.Equal(2, ops.Count(o => o == "QLinearConv"));
        Assert.Equal(!keepAddsFloat, ops.Contains("QLinearAdd"));
        Assert.Equal(keepAddsFloat, ops.Contains("Add"));
    }

    [Fact]
    public void Depths_CountTheQuantizedLayersOnTheLongestPathFromTheInput()
    {
        var (prepared, ranges, _) = Calibrate();
        QdqQuantizer.Quantize(prepared, ranges, new QdqOptions(), out var summary);

        var depths = BiasCorrection.Depths(prepared.Graph, summary.WeightedOutputs.Keys.ToHashSet(StringComparer.Ordinal));

        Assert.Equal([1, 2], depths.Values.Order());
    }

    [Fact]
    public void Quantize_WithBiasCorrection_MovesEachBiasByTheShiftInItsChannelMeans_AndTheShiftIsGone()
    {
        var (prepared, ranges, inputs) = Calibrate();
        var options = new QdqOptions();
        var plain = QdqQuantizer.Quantize(prepared, ranges, options, out var plainSummary);

        var corrected = BiasCorrection.Quantize(prepared, ranges, options, SmallCnn.InputName, Shape, inputs, intraOpThreads: 1, out var summary);

        Assert.Equal(2, summary.BiasCorrected);
        Assert.Equal(0, plainSummary.BiasCorrected);
        var weighted = summary.WeightedOutputs;
        var floatMeans = BiasCorrection.ChannelMeans(prepared, SmallCnn.InputName, Shape, weighted.Keys.ToList(), inputs, 1);
        var plainMeans = BiasCorrection.ChannelMeans(plain, SmallCnn.InputName, Shape, weighted.Values.ToList(), inputs, 1);
        var correctedMeans = BiasCorrection.ChannelMeans(corrected, SmallCnn.InputName, Shape, weighted.Values.ToList(), inputs, 1);
        foreach (var (original, renamed) in weighted)
        {
            // Corrected up to the rounding of the int32 bias (input scale × weight scale per step) and float sums.
            var node = corrected.Graph.Node.Single(n => n.OpType == "Conv" && n.Output[0] == renamed).Name;
            var (_, step) = Bias(corrected, node);
            double before = floatMeans[original].Zip(plainMeans[renamed]).Sum(p => Math.Abs(p.First - p.Second));
            Assert.True(before > 1e-4, $"{original}: quantization shifted no channel mean ({before}); the test measures nothing");
            Assert.Contains(Enumerable.Range(0, step.Length), c => Math.Abs(floatMeans[original][c] - plainMeans[renamed][c]) > step[c] + 1e-6);
            for (int c = 0; c < step.Length; c++)
            {
                double after = Math.Abs(floatMeans[original][c] - correctedMeans[renamed][c]);
                Assert.True(after <= step[c] + 1e-6, $"{original} channel {c}: the means still differ by {after} (a bias step is {step[c]}; before correction the layer's channels differed by {before} in all)");
            }
        }

        // The first quantized layer sees no corrected layer before it: its bias moved by the shift measured, to within the rounding of the bias.
        var first = weighted.Keys.Single(k => BiasCorrection.Depths(prepared.Graph, weighted.Keys.ToHashSet(StringComparer.Ordinal))[k] == 1);
        var firstNode = corrected.Graph.Node.Single(n => n.OpType == "Conv" && n.Output[0] == weighted[first]).Name;
        var (correctedBias, scales) = Bias(corrected, firstNode);
        var (plainBias, _) = Bias(plain, firstNode);
        for (int c = 0; c < scales.Length; c++)
        {
            double shift = floatMeans[first][c] - plainMeans[weighted[first]][c];
            Assert.True(Math.Abs(correctedBias[c] - plainBias[c] - shift) <= scales[c] + 1e-6, $"channel {c}: the bias moved by {correctedBias[c] - plainBias[c]}, the mean had shifted by {shift}");
        }
    }
    [Fact]
    public void Quantize_BiasCorrectionOfTheWrongLength_IsRefused()
    {
        var (prepared, ranges, _) = Calibrate();
        QdqQuantizer.Quantize(prepared, ranges, new QdqOptions(), out var summary);
        var corrections = new Dictionary<string, float[]> { [summary.WeightedOutputs.Keys.First()] = new float[3] };

        var ex = Assert.Throws<ArgumentException>(() => QdqQuantizer.Quantize(prepared, ranges, new QdqOptions { BiasCorrections = corrections }, out _));

        Assert.Contains("3 channels", ex.Message, StringComparison.Ordinal);
    }
}

using FunctionApp.Inference;
using FunctionApp.Slicing;
using FunctionApp.Tests.Support;
using Google.Protobuf;
using Microsoft.ML.OnnxRuntime;
using Onnx;

namespace FunctionApp.Tests.Slicing;

/// <summary>
/// Slicing must not change what a model computes: for every slice count, the slices run in sequence give the
/// original's outputs within 1e-5 (maximum absolute difference).
/// </summary>
public sealed class OnnxSlicerTests : IDisposable
{
    private const float Tolerance = 1e-5f;
    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    [Fact]
    public void PartitionBySlices_GivesExactlyTheCountAndTheSmallestLargestSlice()
    {
        long[] weights = [5, 1, 1, 1, 8, 0, 0, 3, 3, 2];

        var ranges = OnnxSlicer.PartitionBySlices(weights, 3);

        Assert.Equal(3, ranges.Count);
        Assert.Equal(0, ranges[0].Start);
        Assert.Equal(weights.Length, ranges[^1].End);
        Assert.All(ranges.Zip(ranges.Skip(1)), p => Assert.Equal(p.First.End, p.Second.Start));
        Assert.Equal(8, ranges.Max(r => weights[r.Start..r.End].Sum())); // 5+1+1+1 | 8+0+0 | 3+3+2 = 8, 8, 8: the best possible
    }

    [Fact]
    public void PartitionByMaxBytes_KeepsEachSliceUnderTheLimit_WithNoSliceHoldingNoWeights()
    {
        // Weightless nodes (activations, pooling) after a full slice join it instead of standing alone.
        long[] weights = [4, 4, 0, 4, 0, 0, 8, 0, 1, 1];

        var ranges = OnnxSlicer.PartitionByMaxBytes(weights, 8);

        Assert.Equal([(0, 3), (3, 6), (6, 8), (8, 10)], ranges);
        Assert.All(ranges, r => Assert.InRange(weights[r.Start..r.End].Sum(), 1, 8));
    }

    [Fact]
    public void PartitionByMaxBytes_ANodeLargerThanTheLimit_IsRefusedNamingIt()
    {
        long[] weights = [4, 4, 4, 20, 1, 1];

        var error = Assert.Throws<ArgumentOutOfRangeException>(() => OnnxSlicer.PartitionByMaxBytes(weights, 8));

        Assert.StartsWith("Node 3 alone brings 20 bytes of weights, more than the limit of 8.", error.Message, StringComparison.Ordinal);
    }

    /// <summary>
    /// A graph with a two-output Split whose second output is used three nodes later, an activation (A) and the
    /// graph input (X) used by late nodes, and an initializer (W) read on both sides of cuts.
    /// </summary>
    private static ModelProto MultiOutputModel()
    {
        var graph = new GraphProto { Name = "multi" };
        graph.Input.Add(Tensor("X", 1, 4));
        graph.Output.Add(Tensor("Y", 1, 4));
        graph.Initializer.Add(new TensorProto { Name = "W", DataType = 1, Dims = { 2, 2 }, FloatData = { 0.5f, -1.25f, 2f, 0.75f } });
        graph.Initializer.Add(new TensorProto { Name = "Bias", DataType = 1, Dims = { 4 }, FloatData = { 0.1f, 0.2f, 0.3f, 0.4f } });
        Node(graph, "Split", ["X"], ["A", "B"], ("axis", 1));
        Node(graph, "Relu", ["A"], ["C"]);
        Node(graph, "MatMul", ["C", "W"], ["D"]);
        Node(graph, "Add", ["D", "B"], ["E"]);
        Node(graph, "MatMul", ["E", "W"], ["F"]);
        Node(graph, "Concat", ["F", "A"], ["G"], ("axis", 1));
        Node(graph, "Add", ["G", "X"], ["H"]);
        Node(graph, "Add", ["H", "Bias"], ["Y"]);
        var model = new ModelProto { IrVersion = 7, Graph = graph };
        model.OpsetImport.Add(new OperatorSetIdProto { Version = 13 });
        return model;
    }

    [Fact]
    public void Slice_MultiOutputNodesAndTensorsUsedManySlicesLater_MatchTheOriginalForEveryCount()
    {
        var model = MultiOutputModel();
        float[] input = [1.5f, -2f, 0.25f, 3f];
        var expected = RunOriginal(model, "X", input, [1, 4], "Y");
        var weights = OnnxSlicer.NodeWeights(model.Graph);

        for (int count = 2; count <= model.Graph.Node.Count; count++) // 2 to 8 (one node per slice)
        {
            var slices = ModelSlicing.WriteSlices(model, OnnxSlicer.PartitionBySlices(weights, count), _temp.Sub($"multi-{count}"));
            using var runner = new SlicedModelRunner(slices, SliceResidency.AllResident, () => new SessionOptions());
            var actual = runner.Run(new Dictionary<string, (float[], long[])> { ["X"] = (input, [1, 4]) })["Y"].Data;

            Assert.Equal(count, slices.Count);
            AssertClose(expected, actual, $"{count} slices");
        }

        // The Split's second output (B) and the graph input (X) cross cuts by name, not just a node's first output.
        var eight = ModelSlicing.WriteSlices(model, OnnxSlicer.PartitionBySlices(weights, 8), _temp.Sub("multi-8"));
        Assert.Contains(eight[0].Info.Outputs, t => t.Name == "B");
        Assert.Contains(eight[3].Info.Inputs, t => t.Name == "B");
        Assert.Contains(eight[6].Info.Inputs, t => t.Name == "X");
        Assert.Equal([1, 5], eight.Select((slice, i) => (slice, i)).Where(p => p.slice.Info.Inputs.Any(t => t.Name == "A")).Select(p => p.i));
    }

    [Fact]
    public void Slice_SharedInitializer_IsCopiedIntoEachSliceThatReadsIt()
    {
        var model = MultiOutputModel();
        var ranges = new[] { (0, 3), (3, 8) };

        var slices = OnnxSlicer.Slice(model, ranges, TensorProbe.Discover(model, OnnxSlicer.CrossingTensors(model.Graph, ranges)));

        Assert.All(slices, s => Assert.Contains(s.Model.Graph.Initializer, i => i.Name == "W"));
        Assert.Equal(16, slices[0].Info.WeightBytes);
        Assert.Equal(16, slices[1].Info.WeightBytes); // W counted where first read; Bias (16 bytes) in the second
    }

    [Fact]
    public void Slice_ModesAllResidentAndOneAtATime_GiveTheSameAnswer()
    {
        var model = MultiOutputModel();
        var slices = ModelSlicing.WriteSlices(model, OnnxSlicer.PartitionBySlices(OnnxSlicer.NodeWeights(model.Graph), 4), _temp.Sub("modes"));
        var input = new Dictionary<string, (float[], long[])> { ["X"] = ([0.5f, 0.5f, -1f, 2f], [1, 4]) };

        using var resident = new SlicedModelRunner(slices, SliceResidency.AllResident, () => new SessionOptions());
        using var oneAtATime = new SlicedModelRunner(slices, SliceResidency.OneAtATime, () => new SessionOptions());

        Assert.Equal(resident.Run(input)["Y"].Data, oneAtATime.Run(input)["Y"].Data);
    }

    [Fact]
    public void Slice_BundledResNet18_MatchesTheOriginalForTwoToEightSlices()
    {
        var path = Path.Combine(AppContext.BaseDirectory, "models", "fashion-resnet18", "1", "resnet18.onnx");
        ModelProto model;
        using (var file = File.OpenRead(path))
            model = ModelProto.Parser.ParseFrom(file);
        var random = new Random(7);
        var input = Enumerable.Range(0, 3 * 224 * 224).Select(_ => (float)(random.NextDouble() * 255 - 128)).ToArray();
        var expected = RunOriginal(model, "Input247", input, [1, 3, 224, 224], "Pooling395_Output_0");
        var weights = OnnxSlicer.NodeWeights(model.Graph);
        var allRanges = Enumerable.Range(2, 7).ToDictionary(n => n, n => OnnxSlicer.PartitionBySlices(weights, n));
        var types = TensorProbe.Discover(model, allRanges.Values.SelectMany(r => OnnxSlicer.CrossingTensors(model.Graph, r)).Distinct());

        foreach (var (count, ranges) in allRanges)
        {
            var dir = _temp.Sub($"resnet-{count}");
            var slices = ModelSlicing.WriteSlices(model, ranges, dir, types);
            long total = weights.Sum();
            Assert.Equal(count, slices.Count);
            Assert.True(slices.Max(s => s.Info.WeightBytes) <= total / count * 2, $"{count} slices are not balanced by weight: {string.Join(", ", slices.Select(s => s.Info.WeightBytes))}");

            using var runner = new SlicedModelRunner(slices, SliceResidency.AllResident, () => new SessionOptions());
            var actual = runner.Run(new Dictionary<string, (float[], long[])> { ["Input247"] = (input, [1, 3, 224, 224]) })["Pooling395_Output_0"].Data;
            AssertClose(expected, actual, $"{count} slices");
            Directory.Delete(dir, recursive: true);
        }
    }

    private static float[] RunOriginal(ModelProto model, string input, float[] data, long[] shape, string output)
    {
        using var session = new InferenceSession(model.ToByteArray());
        using var value = OrtValue.CreateTensorValueFromMemory(data, shape);
        using var runOptions = new RunOptions();
        using var outputs = session.Run(runOptions, [input], [value], [output]);
        return outputs[0].GetTensorDataAsSpan<float>().ToArray();
    }

    private static void AssertClose(float[] expected, float[] actual, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        float worst = expected.Zip(actual).Max(p => Math.Abs(p.First - p.Second));
        Assert.True(worst <= Tolerance, $"{what}: max absolute difference {worst}");
    }

    private static void Node(GraphProto graph, string op, string[] inputs, string[] outputs, (string Name, long Value)? attribute = null)
    {
        var node = new NodeProto { OpType = op, Name = $"{op}_{outputs[0]}" };
        node.Input.AddRange(inputs);
        node.Output.AddRange(outputs);
        if (attribute is { } a)
            node.Attribute.Add(new AttributeProto { Name = a.Name, Type = AttributeProto.Types.AttributeType.Int, I = a.Value });
        graph.Node.Add(node);
    }

    private static ValueInfoProto Tensor(string name, params long[] dims)
    {
        var shape = new TensorShapeProto();
        shape.Dim.AddRange(dims.Select(d => new TensorShapeProto.Types.Dimension { DimValue = d }));
        return new ValueInfoProto { Name = name, Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = 1, Shape = shape } } };
    }
}

using FunctionApp.Inference;
using Google.Protobuf;
using Onnx;

namespace FunctionApp.Slicing;

/// <summary>
/// Model decomposition: cuts an ONNX graph, in topological order, into contiguous sub-graphs balanced by the
/// bytes of weights they hold (not by node count). Every tensor a later slice needs crosses the boundary,
/// whichever output of its node it is, and whether it is a graph input or an activation used several slices
/// later; an initializer used on both sides of a cut is copied into each slice that reads it.
/// </summary>
public static class OnnxSlicer
{
    /// <summary>Weight bytes each node brings: the initializers it reads that no earlier node has read.</summary>
    public static long[] NodeWeights(GraphProto graph)
    {
        ArgumentNullException.ThrowIfNull(graph);
        var sizes = graph.Initializer.ToDictionary(i => i.Name, TensorBytes, StringComparer.Ordinal);
        var counted = new HashSet<string>(StringComparer.Ordinal);
        return graph.Node.Select(node => node.Input.Where(i => sizes.ContainsKey(i) && counted.Add(i)).Sum(i => sizes[i])).ToArray();
    }

    /// <summary>
    /// Splits nodes into exactly <paramref name="slices"/> contiguous ranges whose largest weight total is as
    /// small as it can be (binary search on that maximum with a greedy fill).
    /// </summary>
    public static IReadOnlyList<(int Start, int End)> PartitionBySlices(IReadOnlyList<long> weights, int slices)
    {
        ArgumentNullException.ThrowIfNull(weights);
        if (slices < 1 || slices > weights.Count)
            throw new ArgumentOutOfRangeException(nameof(slices), slices, $"Choose between 1 and {weights.Count} slices (the node count).");
        long low = weights.Max(), high = Math.Max(weights.Sum(), 1);
        while (low < high)
        {
            long mid = low + ((high - low) / 2);
            if (Greedy(weights, mid).Count <= slices)
                high = mid;
            else
                low = mid + 1;
        }

        var ranges = Greedy(weights, low).ToList();
        // The greedy fill may use fewer slices than asked: split the largest ranges until the count is right.
        while (ranges.Count < slices)
        {
            int widest = Enumerable.Range(0, ranges.Count).Where(i => ranges[i].End - ranges[i].Start > 1).MaxBy(i => Weight(weights, ranges[i]));
            var (start, end) = ranges[widest];
            int cut = start + 1;
            long half = Weight(weights, ranges[widest]) / 2, running = weights[start];
            while (cut < end - 1 && running + weights[cut] <= half)
                running += weights[cut++];
            ranges[widest] = (start, cut);
            ranges.Insert(widest + 1, (cut, end));
        }

        return ranges;
    }

    /// <summary>
    /// Contiguous ranges, each holding at most <paramref name="maxBytes"/> of weights. Every range but a weightless
    /// model's only one starts with a node that brings weights, so no slice is left holding none.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">A single node brings more than <paramref name="maxBytes"/>: the limit cannot be met.</exception>
    public static IReadOnlyList<(int Start, int End)> PartitionByMaxBytes(IReadOnlyList<long> weights, long maxBytes)
    {
        ArgumentNullException.ThrowIfNull(weights);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxBytes, 1);
        int largest = LargestNode(weights);
        if (largest >= 0 && weights[largest] > maxBytes)
            throw new ArgumentOutOfRangeException(nameof(maxBytes), maxBytes, $"Node {largest} alone brings {weights[largest]:N0} bytes of weights, more than the limit of {maxBytes:N0}.");
        return Greedy(weights, maxBytes);
    }

    /// <summary>The index of the node that brings the most weight bytes, or -1 for no nodes.</summary>
    public static int LargestNode(IReadOnlyList<long> weights)
    {
        ArgumentNullException.ThrowIfNull(weights);
        int largest = -1;
        for (int i = 0; i < weights.Count; i++)
        {
            if (largest < 0 || weights[i] > weights[largest])
                largest = i;
        }

        return largest;
    }

    /// <summary>Builds the sub-models for the ranges. <paramref name="tensors"/> gives the type and shape of every tensor that may cross.</summary>
    public static IReadOnlyList<(ModelProto Model, SliceInfo Info)> Slice(ModelProto model, IReadOnlyList<(int Start, int End)> ranges, IReadOnlyDictionary<string, SliceTensor> tensors)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(ranges);
        ArgumentNullException.ThrowIfNull(tensors);
        var graph = model.Graph;
        var initializers = graph.Initializer.ToDictionary(i => i.Name, StringComparer.Ordinal);
        var graphOutputs = graph.Output.Select(o => o.Name).ToHashSet(StringComparer.Ordinal);
        var weights = NodeWeights(graph);
        var result = new List<(ModelProto, SliceInfo)>();

        for (int s = 0; s < ranges.Count; s++)
        {
            var (start, end) = ranges[s];
            var nodes = graph.Node.Skip(start).Take(end - start).ToList();
            var produced = nodes.SelectMany(n => n.Output).Where(o => o.Length > 0).ToHashSet(StringComparer.Ordinal);
            var consumedLater = graph.Node.Skip(end).SelectMany(n => n.Input).ToHashSet(StringComparer.Ordinal);

            var inputs = nodes.SelectMany(n => n.Input)
                .Where(i => i.Length > 0 && !produced.Contains(i) && !initializers.ContainsKey(i))
                .Distinct(StringComparer.Ordinal)
                .ToList();
            var outputs = nodes.SelectMany(n => n.Output)
                .Where(o => o.Length > 0 && (consumedLater.Contains(o) || graphOutputs.Contains(o)))
                .Distinct(StringComparer.Ordinal)
                .ToList();
            var used = nodes.SelectMany(n => n.Input).Where(initializers.ContainsKey).Distinct(StringComparer.Ordinal).ToList();

            var sliceGraph = new GraphProto { Name = $"{graph.Name}-slice-{s}" };
            sliceGraph.Node.AddRange(nodes.Select(n => n.Clone()));
            sliceGraph.Initializer.AddRange(used.Select(i => initializers[i]));
            sliceGraph.Input.AddRange(inputs.Select(i => ValueInfo(Spec(tensors, i))));
            sliceGraph.Output.AddRange(outputs.Select(o => ValueInfo(Spec(tensors, o))));

            var slice = new ModelProto
            {
                IrVersion = Math.Max(model.IrVersion, 4), // initializers need not be listed as inputs from IR 4
                ProducerName = "FunctionApp slice",
                Graph = sliceGraph,
            };
            slice.OpsetImport.AddRange(model.OpsetImport);
            var info = new SliceInfo($"slice-{s}.onnx", start, end - start, weights.Skip(start).Take(end - start).Sum(),
                inputs.Select(i => Spec(tensors, i)).ToList(), outputs.Select(o => Spec(tensors, o)).ToList());
            result.Add((slice, info));
        }

        return result;
    }

    /// <summary>The names of every tensor that crosses any boundary of the ranges (what must be typed before slicing).</summary>
    public static IReadOnlySet<string> CrossingTensors(GraphProto graph, IReadOnlyList<(int Start, int End)> ranges)
    {
        ArgumentNullException.ThrowIfNull(graph);
        ArgumentNullException.ThrowIfNull(ranges);
        var initializers = graph.Initializer.Select(i => i.Name).ToHashSet(StringComparer.Ordinal);
        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (start, end) in ranges)
        {
            var nodes = graph.Node.Skip(start).Take(end - start).ToList();
            var produced = nodes.SelectMany(n => n.Output).ToHashSet(StringComparer.Ordinal);
            names.UnionWith(nodes.SelectMany(n => n.Input).Where(i => i.Length > 0 && !produced.Contains(i) && !initializers.Contains(i)));
        }

        names.UnionWith(graph.Output.Select(o => o.Name));
        return names;
    }

    private static SliceTensor Spec(IReadOnlyDictionary<string, SliceTensor> tensors, string name) =>
        tensors.TryGetValue(name, out var spec) ? spec : throw new InvalidOperationException($"No type is known for tensor '{name}'.");

    private static ValueInfoProto ValueInfo(SliceTensor tensor)
    {
        var shape = new TensorShapeProto();
        shape.Dim.AddRange(tensor.Shape.Select(d => new TensorShapeProto.Types.Dimension { DimValue = d }));
        return new ValueInfoProto { Name = tensor.Name, Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = tensor.ElementType, Shape = shape } } };
    }

    private static List<(int Start, int End)> Greedy(IReadOnlyList<long> weights, long limit)
    {
        var ranges = new List<(int, int)>();
        int start = 0;
        long running = 0;
        for (int i = 0; i < weights.Count; i++)
        {
            if (i > start && running + weights[i] > limit)
            {
                ranges.Add((start, i));
                start = i;
                running = 0;
            }

            running += weights[i];
        }

        ranges.Add((start, weights.Count));
        return ranges;
    }

    private static long Weight(IReadOnlyList<long> weights, (int Start, int End) range)
    {
        long sum = 0;
        for (int i = range.Start; i < range.End; i++)
            sum += weights[i];
        return sum;
    }

    private static long TensorBytes(TensorProto tensor)
    {
        if (!tensor.RawData.IsEmpty)
            return tensor.RawData.Length;
        return (tensor.FloatData.Count * 4L) + (tensor.DoubleData.Count * 8L) + (tensor.Int64Data.Count * 8L) + (tensor.Int32Data.Count * 4L) + tensor.StringData.Sum(s => (long)s.Length);
    }
}

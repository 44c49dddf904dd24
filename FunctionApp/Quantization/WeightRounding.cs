using System.Numerics;
using Google.Protobuf;
using Microsoft.ML.OnnxRuntime;
using Onnx;

namespace FunctionApp.Quantization;

/// <summary>
/// Chooses, for each weight of a convolution, whether to round it down or up to the int8 grid so that the layer's
/// output on calibration inputs moves least, rather than rounding each weight to its nearest step on its own (a greedy
/// form of AdaRound: Nagel et al., 2020, "Up or Down? Adaptive Rounding for Post-Training Quantization"). For output
/// channel c with weight errors e (rounded minus float), the output's mean squared error over the input patches x is
/// eᵀ H e with H = E[x xᵀ]; starting from round-to-nearest, a weight is moved to its other grid neighbour whenever that
/// lowers eᵀ H e, over a few passes. Each channel keeps the scale round-to-nearest gives it, so only the int8 values
/// change.
/// </summary>
public static class WeightRounding
{
    /// <summary>Input patches sampled per layer to estimate H: at least this many, and at least twice the patch length.</summary>
    public const int MinPatches = 4096;

    private const int Passes = 3;

    /// <summary>
    /// The int8 weights of each quantized Conv, in the layout of <see cref="QuantizationMath.QuantizeWeights"/> and with
    /// its scales, rounded up or down for least output error over <paramref name="inputs"/>: layer by layer from the
    /// input, each layer's inputs taken from the QDQ graph (unfused, so the 8-bit rounding is simulated) with the layers
    /// before it already rounded, and its error measured against the float graph's output: eᵀ Ĥ e + 2 eᵀ E[x̂ r], where x̂ is the quantized graph's input patch and r the
    /// error the float weights give on it (w · (x̂ − x)). Each layer is thus rounded to work against the error the layers
    /// before it pass on, not only its own.
    /// </summary>
    /// <param name="onDepth">Called after each depth is rounded, with the depth and the number of depths.</param>
    public static IReadOnlyDictionary<string, sbyte[]> OptimizeSequential(ModelProto prepared, IReadOnlyDictionary<string, TensorRange> ranges, QdqOptions options, string inputName, IReadOnlyList<long> inputShape, IReadOnlyList<float[]> inputs, int intraOpThreads = 0, int seed = 0, Action<int, int>? onDepth = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(prepared);
        ArgumentNullException.ThrowIfNull(ranges);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(inputShape);
        ArgumentNullException.ThrowIfNull(inputs);
        if (inputs.Count == 0)
            throw new ArgumentException("At least one input is needed to choose roundings.", nameof(inputs));
        QdqQuantizer.Quantize(prepared, ranges, options, out var planned);
        var layers = Layers(prepared, planned.WeightedOutputs.Keys.ToList());
        var depths = BiasCorrection.Depths(prepared.Graph, layers.Select(l => l.Output).ToHashSet(StringComparer.Ordinal));
        var byDepth = layers.GroupBy(l => depths[l.Output]).OrderBy(g => g.Key).Select(g => g.ToList()).ToList();
        var rounded = new Dictionary<string, sbyte[]>(StringComparer.Ordinal);
        var random = new Random(seed);
        for (int d = 0; d < byDepth.Count; d++)
        {
            var layer = byDepth[d];
            var quantized = QdqQuantizer.Quantize(prepared, ranges, options with { RoundedWeights = rounded }, out var summary);
            var reads = layer.ToDictionary(l => l, l => quantized.Graph.Node.First(n => n.Output.Count > 0 && n.Output[0] == summary.WeightedOutputs[l.Output]).Input[0]);
            using var floatRun = new TensorRun(prepared, inputName, inputShape, [.. layer.Select(l => l.Input)], GraphOptimizationLevel.ORT_ENABLE_BASIC, intraOpThreads);
            using var quantizedRun = new TensorRun(quantized, inputName, inputShape, [.. reads.Values], GraphOptimizationLevel.ORT_DISABLE_ALL, intraOpThreads);
            foreach (var input in inputs)
            {
                cancellationToken.ThrowIfCancellationRequested();
                var reference = floatRun.Run(input);
                var seen = quantizedRun.Run(input);
                Accumulate(layer, l => seen[reads[l]], l => reference[l.Input].Data, inputs.Count, random, intraOpThreads, cancellationToken);
            }

            foreach (var l in layer)
                rounded[l.Output] = l.Round(intraOpThreads);
            onDepth?.Invoke(d + 1, byDepth.Count);
        }

        return rounded;
    }

    private static List<Layer> Layers(ModelProto prepared, IReadOnlyCollection<string> convOutputs)
    {
        var graph = prepared.Graph;
        var initializers = graph.Initializer.ToDictionary(i => i.Name, StringComparer.Ordinal);
        var layers = new List<Layer>();
        foreach (var node in graph.Node.Where(n => n.OpType == "Conv" && n.Output.Count == 1 && convOutputs.Contains(n.Output[0])))
        {
            if (OnnxTensors.Attribute(node, "group", 1) != 1 || !initializers.TryGetValue(node.Input[1], out var weight) || weight.Dims.Count != 4)
                continue;
            if (node.Attribute.FirstOrDefault(a => a.Name == "dilations") is { } dilations && dilations.Ints.Any(d => d != 1))
                continue;
            if (node.Attribute.FirstOrDefault(a => a.Name == "auto_pad") is { } autoPad && autoPad.S.ToStringUtf8() is not ("" or "NOTSET"))
                continue;
            layers.Add(new Layer(node, weight));
        }

        return layers;
    }

    private static void Accumulate(List<Layer> layers, Func<Layer, (float[] Data, long[] Dims)> seen, Func<Layer, float[]> reference, int images, Random random, int threads, CancellationToken cancellationToken)
    {
        var positions = layers.Select(l => l.SamplePositions(seen(l).Dims, images, random)).ToList();
        Parallel.For(0, layers.Count, new ParallelOptions { MaxDegreeOfParallelism = Math.Max(1, threads), CancellationToken = cancellationToken }, i =>
        {
            var (data, dims) = seen(layers[i]);
            layers[i].Accumulate(data, reference(layers[i]), dims, positions[i]);
        });
    }

    /// <summary>A session that exposes some of a graph's tensors as outputs and returns them (and the graph input, if asked for) for one input.</summary>
    private sealed class TensorRun : IDisposable
    {
        private readonly InferenceSession _session;
        private readonly string _inputName;
        private readonly long[] _shape;
        private readonly string[] _fetched;

        public TensorRun(ModelProto model, string inputName, IReadOnlyList<long> inputShape, IReadOnlyCollection<string> tensors, GraphOptimizationLevel level, int intraOpThreads)
        {
            var probe = model.Clone();
            var declared = probe.Graph.Output.Select(o => o.Name).ToHashSet(StringComparer.Ordinal);
            _fetched = [.. tensors.Where(n => n != inputName).Distinct(StringComparer.Ordinal)];
            foreach (var name in _fetched.Where(n => !declared.Contains(n)))
                probe.Graph.Output.Add(new ValueInfoProto { Name = name, Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)TensorProto.Types.DataType.Float } } });
            using var options = new SessionOptions { GraphOptimizationLevel = level, IntraOpNumThreads = intraOpThreads, InterOpNumThreads = 1 };
            _session = new InferenceSession(probe.ToByteArray(), options);
            _inputName = inputName;
            _shape = [.. inputShape];
        }

        public Dictionary<string, (float[] Data, long[] Dims)> Run(float[] input)
        {
            var values = new Dictionary<string, (float[] Data, long[] Dims)>(StringComparer.Ordinal) { [_inputName] = (input, _shape) };
            if (_fetched.Length == 0)
                return values;
            using var feed = OrtValue.CreateTensorValueFromMemory(input, _shape);
            using var runOptions = new RunOptions();
            using var outputs = _session.Run(runOptions, [_inputName], [feed], _fetched);
            for (int i = 0; i < _fetched.Length; i++)
                values[_fetched[i]] = (outputs[i].GetTensorDataAsSpan<float>().ToArray(), outputs[i].GetTensorTypeAndShape().Shape);
            return values;
        }

        public void Dispose() => _session.Dispose();
    }

    /// <summary>
    /// Greedy rounding of one output channel: <paramref name="q"/> starts at round-to-nearest of
    /// <paramref name="w"/> / <paramref name="scale"/> and each value moves to its other grid neighbour (within ±127)
    /// whenever that lowers eᵀ H e, e = q × scale − w. <paramref name="h"/> is the full symmetric d × d matrix, row-major.
    /// </summary>
    /// <returns>How many values ended on the other side from round-to-nearest.</returns>
    public static int RoundChannel(ReadOnlySpan<float> w, float scale, ReadOnlySpan<float> h, Span<sbyte> q, int passes = Passes) => RoundChannel(w, scale, h, default, q, passes);

    /// <summary>
    /// As <see cref="RoundChannel(ReadOnlySpan{float}, float, ReadOnlySpan{float}, Span{sbyte}, int)"/>, for the error
    /// eᵀ H e + 2 eᵀ b: <paramref name="b"/> (empty for none) is E[x̂ r], where r is the error this channel's output
    /// already carries from the layers before it, so that the rounding also works against that error.
    /// </summary>
    public static int RoundChannel(ReadOnlySpan<float> w, float scale, ReadOnlySpan<float> h, ReadOnlySpan<float> b, Span<sbyte> q, int passes = Passes)
    {
        int d = w.Length;
        if (h.Length != d * d || q.Length != d)
            throw new ArgumentException($"H must be {d} × {d} and q of length {d}.");
        var e = new float[d];
        var g = new float[d];
        for (int j = 0; j < d; j++)
            e[j] = (q[j] * scale) - w[j];
        for (int i = 0; i < d; i++)
            g[i] = Dot(h.Slice(i * d, d), e) + (b.IsEmpty ? 0f : b[i]);

        int moved = 0;
        for (int pass = 0; pass < passes; pass++)
        {
            int flips = 0;
            for (int j = 0; j < d; j++)
            {
                // The other neighbour of w_j on the grid: one step against the current error's sign.
                int step = e[j] > 0 ? -1 : 1;
                int candidate = q[j] + step;
                if (candidate is < -QuantizationMath.SymmetricMax or > QuantizationMath.SymmetricMax || MathF.Abs((candidate * scale) - w[j]) > scale)
                    continue;
                float delta = step * scale;
                float change = (2 * delta * g[j]) + (delta * delta * h[(j * d) + j]);
                if (change >= 0)
                    continue;
                q[j] = (sbyte)candidate;
                e[j] += delta;
                Axpy(delta, h.Slice(j * d, d), g);
                flips++;
            }

            moved += flips;
            if (flips == 0)
                break;
        }

        return moved;
    }

    private static float Dot(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        float sum = 0;
        int i = 0;
        if (Vector.IsHardwareAccelerated)
        {
            var acc = Vector<float>.Zero;
            for (; i <= a.Length - Vector<float>.Count; i += Vector<float>.Count)
                acc += new Vector<float>(a.Slice(i)) * new Vector<float>(b.Slice(i));
            sum = Vector.Sum(acc);
        }

        for (; i < a.Length; i++)
            sum += a[i] * b[i];
        return sum;
    }

    private static void Axpy(float alpha, ReadOnlySpan<float> x, Span<float> y)
    {
        int i = 0;
        if (Vector.IsHardwareAccelerated)
        {
            var a = new Vector<float>(alpha);
            for (; i <= x.Length - Vector<float>.Count; i += Vector<float>.Count)
                ((a * new Vector<float>(x.Slice(i))) + new Vector<float>(y.Slice(i))).CopyTo(y.Slice(i));
        }

        for (; i < x.Length; i++)
            y[i] += alpha * x[i];
    }

    /// <summary>One convolution: its geometry, its float weight, and H accumulated from sampled input patches (upper triangle until <see cref="Round"/>).</summary>
    private sealed class Layer
    {
        private readonly float[] _weight;
        private readonly IReadOnlyList<long> _dims;
        private readonly int _kh, _kw, _sh, _sw, _ph, _pw, _peh, _pew;
        private readonly float[] _h;
        private readonly int _d;
        private readonly int _outputs;
        private readonly float[] _b;

        public Layer(NodeProto node, TensorProto weight)
        {
            Output = node.Output[0];
            Input = node.Input[0];
            _weight = OnnxTensors.ReadFloats(weight);
            _dims = [.. weight.Dims];
            _kh = (int)weight.Dims[2];
            _kw = (int)weight.Dims[3];
            var strides = node.Attribute.FirstOrDefault(a => a.Name == "strides")?.Ints;
            _sh = strides is { Count: 2 } ? (int)strides[0] : 1;
            _sw = strides is { Count: 2 } ? (int)strides[1] : 1;
            var pads = node.Attribute.FirstOrDefault(a => a.Name == "pads")?.Ints;
            (_ph, _pw, _peh, _pew) = pads is { Count: 4 } ? ((int)pads[0], (int)pads[1], (int)pads[2], (int)pads[3]) : (0, 0, 0, 0);
            _d = (int)(weight.Dims[1] * _kh * _kw);
            _outputs = (int)weight.Dims[0];
            _h = new float[_d * _d];
            _b = new float[_weight.Length];
        }

        public string Output { get; }

        public string Input { get; }

        public int Patches { get; private set; }

        /// <summary>Output positions to take this image's patches at: the layer's share of the patches, spread at random.</summary>
        public List<(int Y, int X)> SamplePositions(long[] dims, int images, Random random)
        {
            int oh = (int)((dims[2] + _ph + _peh - _kh) / _sh) + 1;
            int ow = (int)((dims[3] + _pw + _pew - _kw) / _sw) + 1;
            int wanted = (Math.Max(MinPatches, 2 * _d) + images - 1) / images;
            if (wanted >= oh * ow)
                return [.. Enumerable.Range(0, oh * ow).Select(p => (p / ow, p % ow))];
            return [.. Enumerable.Range(0, wanted).Select(_ => random.Next(oh * ow)).Select(p => (p / ow, p % ow))];
        }

        /// <summary>Adds the patches of <paramref name="data"/> at <paramref name="positions"/> to H, and with <paramref name="reference"/> (the float graph's input) E[x̂ r] to b.</summary>
        public void Accumulate(float[] data, float[] reference, long[] dims, List<(int Y, int X)> positions)
        {
            var patch = new float[_d];
            var referencePatch = new float[_d];
            foreach (var (y, x) in positions)
            {
                Patch(data, dims, y, x, patch);
                for (int i = 0; i < _d; i++)
                {
                    if (patch[i] != 0f)
                        Axpy(patch[i], patch.AsSpan(i), _h.AsSpan((i * _d) + i, _d - i));
                }

                Patch(reference, dims, y, x, referencePatch);
                for (int i = 0; i < _d; i++)
                    referencePatch[i] = patch[i] - referencePatch[i];
                for (int c = 0; c < _outputs; c++)
                {
                    float r = Dot(_weight.AsSpan(c * _d, _d), referencePatch);
                    Axpy(r, patch, _b.AsSpan(c * _d, _d));
                }

                Patches++;
            }
        }

        private void Patch(float[] data, long[] dims, int y, int x, float[] patch)
        {
            int channels = (int)dims[1], height = (int)dims[2], width = (int)dims[3];
            int k = 0;
            for (int c = 0; c < channels; c++)
            {
                for (int i = 0; i < _kh; i++)
                {
                    int row = (y * _sh) - _ph + i;
                    for (int j = 0; j < _kw; j++, k++)
                    {
                        int col = (x * _sw) - _pw + j;
                        patch[k] = row >= 0 && row < height && col >= 0 && col < width ? data[(((c * height) + row) * width) + col] : 0f;
                    }
                }
            }
        }

        public sbyte[] Round(int threads)
        {
            for (int i = 0; i < _d; i++)
            {
                for (int j = i; j < _d; j++)
                {
                    _h[(i * _d) + j] /= Patches;
                    _h[(j * _d) + i] = _h[(i * _d) + j];
                }
            }

            for (int i = 0; i < _b.Length; i++)
                _b[i] /= Patches;

            var (values, scales) = QuantizationMath.QuantizeWeights(_weight, _dims, 0);
            Parallel.For(0, _outputs, new ParallelOptions { MaxDegreeOfParallelism = Math.Max(1, threads) }, c =>
                RoundChannel(_weight.AsSpan(c * _d, _d), scales[c], _h, _b.AsSpan(c * _d, _d), values.AsSpan(c * _d, _d)));
            return values;
        }
    }
}

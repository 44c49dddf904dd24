namespace FunctionApp.Quantization;

/// <summary>The 8-bit type a tensor is quantized to.</summary>
public enum QuantType
{
    /// <summary>Unsigned 8-bit, 0 to 255.</summary>
    U8,

    /// <summary>Signed 8-bit, -128 to 127.</summary>
    S8,
}

/// <summary>How a real value maps to an 8-bit one: <c>q = clamp(round(x / Scale) + ZeroPoint)</c>, and back <c>x = (q - ZeroPoint) * Scale</c>.</summary>
public readonly record struct QuantParams(float Scale, int ZeroPoint);

/// <summary>
/// The arithmetic of linear 8-bit quantization as ONNX's QuantizeLinear and DequantizeLinear define it: scales and
/// zero points from a range, rounding half to even with saturation, and per-channel symmetric weights.
/// </summary>
public static class QuantizationMath
{
    /// <summary>The largest magnitude symmetric int8 weights use: -127 to 127, so that negation never saturates.</summary>
    public const int SymmetricMax = 127;

    public static int Min(QuantType type) => type == QuantType.U8 ? 0 : -128;

    public static int Max(QuantType type) => type == QuantType.U8 ? 255 : 127;

    /// <summary>
    /// Asymmetric parameters covering [<paramref name="min"/>, <paramref name="max"/>] widened to hold 0, so that
    /// zero (padding, ReLU's floor) is exact. A range of one point gets scale 1.
    /// </summary>
    public static QuantParams Asymmetric(float min, float max, QuantType type)
    {
        if (!float.IsFinite(min) || !float.IsFinite(max) || min > max)
            throw new ArgumentException($"The range [{min}, {max}] is not a finite interval.");
        min = Math.Min(min, 0f);
        max = Math.Max(max, 0f);
        int qmin = Min(type), qmax = Max(type);
        float scale = (max - min) / (qmax - qmin);
        if (scale <= 0f || !float.IsNormal(scale))
            return new QuantParams(1f, type == QuantType.U8 ? 0 : 0);
        int zero = (int)Math.Round(qmin - (min / scale), MidpointRounding.ToEven);
        return new QuantParams(scale, Math.Clamp(zero, qmin, qmax));
    }

    /// <summary>Symmetric int8 parameters (zero point 0) for values within ±<paramref name="absMax"/>.</summary>
    public static QuantParams Symmetric(float absMax)
    {
        if (!float.IsFinite(absMax) || absMax < 0f)
            throw new ArgumentException($"The bound {absMax} is not a finite magnitude.", nameof(absMax));
        float scale = absMax / SymmetricMax;
        return new QuantParams(scale > 0f && float.IsNormal(scale) ? scale : 1f, 0);
    }

    /// <summary>QuantizeLinear: round half to even, then saturate to the type's range.</summary>
    public static int Quantize(float value, QuantParams p, QuantType type) =>
        (int)Math.Clamp(MathF.Round(value / p.Scale, MidpointRounding.ToEven) + p.ZeroPoint, Min(type), Max(type));

    /// <summary>DequantizeLinear.</summary>
    public static float Dequantize(int value, QuantParams p) => (value - p.ZeroPoint) * p.Scale;

    /// <summary>
    /// Per-channel symmetric int8 quantization of a weight whose channels lie along <paramref name="axis"/> of
    /// <paramref name="dims"/> (0 for Conv's [M, C/g, kH, kW]; for Gemm's B, 0 when transposed, else 1): each channel
    /// gets the scale that maps its largest magnitude to 127.
    /// </summary>
    public static (sbyte[] Values, float[] Scales) QuantizeWeights(ReadOnlySpan<float> weights, IReadOnlyList<long> dims, int axis)
    {
        ArgumentNullException.ThrowIfNull(dims);
        if (axis < 0 || axis >= dims.Count)
            throw new ArgumentOutOfRangeException(nameof(axis), axis, $"The weight has {dims.Count} dimensions.");
        long total = dims.Aggregate(1L, (a, b) => a * b);
        if (total != weights.Length)
            throw new ArgumentException($"The weight holds {weights.Length} values but its shape [{string.Join(",", dims)}] needs {total}.", nameof(weights));
        int channels = (int)dims[axis];
        long inner = 1;
        for (int d = axis + 1; d < dims.Count; d++)
            inner *= dims[d];
        var absMax = new float[channels];
        for (int i = 0; i < weights.Length; i++)
        {
            int c = (int)(i / inner % channels);
            absMax[c] = Math.Max(absMax[c], Math.Abs(weights[i]));
        }

        var scales = new float[channels];
        var parameters = new QuantParams[channels];
        for (int c = 0; c < channels; c++)
        {
            parameters[c] = Symmetric(absMax[c]);
            scales[c] = parameters[c].Scale;
        }

        var values = new sbyte[weights.Length];
        for (int i = 0; i < weights.Length; i++)
        {
            var p = parameters[(int)(i / inner % channels)];
            values[i] = (sbyte)Math.Clamp(MathF.Round(weights[i] / p.Scale, MidpointRounding.ToEven), -SymmetricMax, SymmetricMax);
        }

        return (values, scales);
    }

    /// <summary>A bias as int32 with scale input scale × weight scale per channel (zero point 0), as QLinearConv adds it to its accumulators.</summary>
    public static (int[] Values, float[] Scales) QuantizeBias(ReadOnlySpan<float> bias, float inputScale, IReadOnlyList<float> weightScales)
    {
        ArgumentNullException.ThrowIfNull(weightScales);
        if (weightScales.Count != bias.Length && weightScales.Count != 1)
            throw new ArgumentException($"{weightScales.Count} weight scales for a bias of {bias.Length}.", nameof(weightScales));
        var values = new int[bias.Length];
        var scales = new float[bias.Length];
        for (int i = 0; i < bias.Length; i++)
        {
            float scale = inputScale * weightScales[weightScales.Count == 1 ? 0 : i];
            scales[i] = scale;
            double q = Math.Round(bias[i] / (double)scale, MidpointRounding.ToEven);
            values[i] = (int)Math.Clamp(q, int.MinValue, int.MaxValue);
        }

        return (values, scales);
    }
}

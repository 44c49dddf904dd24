using FunctionApp.Quantization;

namespace FunctionApp.Tests.Quantization;

public class QuantizationMathTests
{
    [Theory]
    [InlineData(QuantType.U8)]
    [InlineData(QuantType.S8)]
    public void Asymmetric_RangeMapsOntoTheWholeType_AndZeroIsExact(QuantType type)
    {
        var p = QuantizationMath.Asymmetric(-1f, 3f, type);

        Assert.Equal(4f / 255f, p.Scale, 6);
        Assert.Equal(0f, QuantizationMath.Dequantize(QuantizationMath.Quantize(0f, p, type), p));
        Assert.Equal(QuantizationMath.Min(type), QuantizationMath.Quantize(-1f, p, type));
        Assert.Equal(QuantizationMath.Max(type), QuantizationMath.Quantize(3f, p, type));
    }

    [Fact]
    public void Asymmetric_NonNegativeRange_PutsTheZeroPointAtTheTypesMinimum()
    {
        // What a ReLU output gets: nothing below zero, so negative values clamp exactly as ReLU would.
        Assert.Equal(new QuantParams(6f / 255f, 0), QuantizationMath.Asymmetric(0f, 6f, QuantType.U8));
        Assert.Equal(-128, QuantizationMath.Asymmetric(0f, 6f, QuantType.S8).ZeroPoint);
        Assert.Equal(-128, QuantizationMath.Quantize(-5f, QuantizationMath.Asymmetric(0f, 6f, QuantType.S8), QuantType.S8));
    }

    [Fact]
    public void Asymmetric_RangeNotHoldingZero_IsWidenedToHoldIt()
    {
        var p = QuantizationMath.Asymmetric(2f, 4f, QuantType.U8);

        Assert.Equal(4f / 255f, p.Scale, 6);
        Assert.Equal(0, p.ZeroPoint);
    }

    [Fact]
    public void Asymmetric_OnePointRange_GetsScaleOne()
    {
        Assert.Equal(1f, QuantizationMath.Asymmetric(0f, 0f, QuantType.U8).Scale);
        Assert.Throws<ArgumentException>(() => QuantizationMath.Asymmetric(float.NaN, 1f, QuantType.U8));
        Assert.Throws<ArgumentException>(() => QuantizationMath.Asymmetric(2f, 1f, QuantType.U8));
    }

    [Fact]
    public void Quantize_RoundsHalfToEvenAndSaturates_AsQuantizeLinearDoes()
    {
        var p = new QuantParams(1f, 0);

        Assert.Equal(2, QuantizationMath.Quantize(2.5f, p, QuantType.S8));
        Assert.Equal(4, QuantizationMath.Quantize(3.5f, p, QuantType.S8));
        Assert.Equal(-2, QuantizationMath.Quantize(-2.5f, p, QuantType.S8));
        Assert.Equal(127, QuantizationMath.Quantize(1000f, p, QuantType.S8));
        Assert.Equal(0, QuantizationMath.Quantize(-3f, p, QuantType.U8));
    }

    [Fact]
    public void RoundTrip_WithinTheRange_ErrsByAtMostHalfAStep()
    {
        var random = new Random(7);
        foreach (var type in new[] { QuantType.U8, QuantType.S8 })
        {
            float min = -3.7f, max = 11.2f;
            var p = QuantizationMath.Asymmetric(min, max, type);
            for (int i = 0; i < 10_000; i++)
            {
                float x = min + ((max - min) * (float)random.NextDouble());
                float back = QuantizationMath.Dequantize(QuantizationMath.Quantize(x, p, type), p);
                Assert.True(Math.Abs(back - x) <= (p.Scale / 2) + 1e-6f, $"{x} came back as {back} (scale {p.Scale})");
            }
        }
    }

    [Fact]
    public void QuantizeWeights_EachOutputChannelGetsItsOwnSymmetricScale()
    {
        // Two channels of a [2,1,1,3] convolution weight: one small, one large.
        float[] weights = [0.012f, -0.02f, 0.005f, 5f, -10f, 2.5f];

        var (values, scales) = QuantizationMath.QuantizeWeights(weights, [2, 1, 1, 3], axis: 0);

        Assert.Equal([0.02f / 127f, 10f / 127f], scales);
        Assert.Equal(-127, values[1]);
        Assert.Equal(-127, values[4]);
        Assert.Equal(76, values[0]); // 0.012 / (0.02/127) = 76.2
        Assert.Equal(32, values[2]); // 0.005 / (0.02/127) = 31.75
        for (int i = 0; i < weights.Length; i++)
        {
            float scale = scales[i / 3];
            Assert.True(Math.Abs((values[i] * scale) - weights[i]) <= (scale / 2) + 1e-7f);
        }
    }

    [Fact]
    public void QuantizeWeights_AlongTheSecondAxis_ForGemmWeightsNotTransposed()
    {
        // B is [K=2, N=3]: the channels are the columns.
        float[] b = [1f, 0.1f, -4f, -2f, 0.05f, 1f];

        var (_, scales) = QuantizationMath.QuantizeWeights(b, [2, 3], axis: 1);

        Assert.Equal([2f / 127f, 0.1f / 127f, 4f / 127f], scales);
    }

    [Fact]
    public void QuantizeWeights_AllZeroChannel_StaysZeroWithScaleOne()
    {
        var (values, scales) = QuantizationMath.QuantizeWeights([0f, 0f, 1f, -1f], [2, 2], axis: 0);

        Assert.Equal([1f, 1f / 127f], scales);
        Assert.Equal([0, 0, 127, -127], values.Select(v => (int)v));
        Assert.Throws<ArgumentException>(() => QuantizationMath.QuantizeWeights([1f, 2f, 3f], [2, 2], axis: 0));
    }

    [Fact]
    public void QuantizeBias_UsesInputScaleTimesWeightScale()
    {
        var (values, scales) = QuantizationMath.QuantizeBias([0.5f, -0.25f], inputScale: 0.1f, [0.01f, 0.05f]);

        Assert.Equal([0.1f * 0.01f, 0.1f * 0.05f], scales);
        Assert.Equal([500, -50], values);
    }
}

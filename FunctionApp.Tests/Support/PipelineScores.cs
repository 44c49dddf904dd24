using FunctionApp.Inference;

namespace FunctionApp.Tests.Support;

/// <summary>Scores of a 224x224 RGB model's pipeline on a made-up tensor, for comparing one way of loading it with another.</summary>
public static class PipelineScores
{
    public static float[] Of(InferencePipeline pipeline, float seed = 0)
    {
        ArgumentNullException.ThrowIfNull(pipeline);
        // Not disposed: disposing an ML.NET prediction engine disposes the ONNX session its pipeline shares.
        var engine = pipeline.CreateEngine();
        var pixels = new float[3 * 224 * 224];
        for (int i = 0; i < pixels.Length; i++)
            pixels[i] = ((i * 31 + (int)(seed * 7)) % 255) - 120f;
        var output = new ScoresOutput();
        engine.Predict(new TensorInput { Pixels = pixels }, ref output);
        return output.Scores;
    }

    /// <summary>The same scores to <paramref name="digits"/> decimal places.</summary>
    public static void AssertClose(float[] expected, float[] actual, int digits)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
            Assert.Equal(expected[i], actual[i], digits);
    }
}

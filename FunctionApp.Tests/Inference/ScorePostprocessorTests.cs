using FunctionApp.Inference;

namespace FunctionApp.Tests.Inference;

public class ScorePostprocessorTests
{
    private static readonly string[] Labels = ["a", "b", "c", "d"];

    [Fact]
    public void Softmax_LargeLogits_IsStableAndSumsToOne()
    {
        float[] scores = [1000f, 1001f, 999f, -1000f];

        ScorePostprocessor.Softmax(scores);

        Assert.Equal(1.0, scores.Sum(), 5);
        Assert.Equal(0.6652409f, scores[1], 1e-5f);
        Assert.Equal(0f, scores[3], 1e-6f);
    }

    [Fact]
    public void TopK_ReturnsBestFirstWithIndexes()
    {
        var top = ScorePostprocessor.TopK([0.1f, 0.5f, 0.3f, 0.1f], Labels, 2);

        Assert.Equal([("b", 1), ("c", 2)], top.Select(t => (t.Label, t.Index)));
        Assert.Equal(0.5f, top[0].Score);
    }

    [Fact]
    public void TopK_KAboveClassCount_ReturnsEveryClass()
    {
        var top = ScorePostprocessor.TopK([0.4f, 0.1f, 0.3f, 0.2f], Labels, 10);

        Assert.Equal(["a", "c", "d", "b"], top.Select(t => t.Label));
    }

    [Fact]
    public void TopK_Ties_KeepClassOrder()
    {
        var top = ScorePostprocessor.TopK([0.25f, 0.25f, 0.25f, 0.25f], Labels, 3);

        Assert.Equal(["a", "b", "c"], top.Select(t => t.Label));
    }

    [Fact]
    public void TopK_NaNScore_RanksLast()
    {
        var top = ScorePostprocessor.TopK([float.NaN, 0.1f, 0.2f, 0.3f], Labels, 4);

        Assert.Equal("a", top[^1].Label);
    }

    [Fact]
    public void TopK_WrongScoreCount_Throws()
    {
        Assert.Throws<ArgumentException>(() => ScorePostprocessor.TopK([0.1f, 0.2f], Labels, 1));
    }

    [Fact]
    public void Rank_Logits_AppliesSoftmaxButProbabilitiesDoNot()
    {
        float[] scores = [2f, 1f, 0f, 0f];

        var fromLogits = ScorePostprocessor.Rank(scores, ScoreKind.Logits, Labels, 1);
        var asGiven = ScorePostprocessor.Rank(scores, ScoreKind.Probabilities, Labels, 1);

        Assert.Equal(0.6103f, fromLogits[0].Score, 1e-3f);
        Assert.Equal(2f, asGiven[0].Score);
        Assert.Equal(2f, scores[0]);
    }
}

namespace FunctionApp.Inference;

/// <summary>One class in a ranked answer.</summary>
public sealed record LabelScore(string Label, int Index, float Score);

/// <summary>Turns raw scores into probabilities and the top-K labels.</summary>
public static class ScorePostprocessor
{
    /// <summary>Numerically stable softmax, in place.</summary>
    public static void Softmax(Span<float> scores)
    {
        if (scores.IsEmpty)
            return;
        float max = float.NegativeInfinity;
        foreach (var s in scores)
            max = Math.Max(max, s);
        double sum = 0;
        for (int i = 0; i < scores.Length; i++)
        {
            scores[i] = MathF.Exp(scores[i] - max);
            sum += scores[i];
        }

        for (int i = 0; i < scores.Length; i++)
            scores[i] = (float)(scores[i] / sum);
    }

    /// <summary>The <paramref name="k"/> highest-scoring classes, best first; ties keep class order.</summary>
    public static IReadOnlyList<LabelScore> TopK(ReadOnlySpan<float> scores, IReadOnlyList<string> labels, int k)
    {
        ArgumentNullException.ThrowIfNull(labels);
        ArgumentOutOfRangeException.ThrowIfLessThan(k, 1);
        if (scores.Length != labels.Count)
            throw new ArgumentException($"The model produced {scores.Length} scores for {labels.Count} labels.", nameof(scores));

        k = Math.Min(k, scores.Length);
        var best = new List<LabelScore>(k + 1);
        for (int i = 0; i < scores.Length; i++)
        {
            float s = float.IsNaN(scores[i]) ? float.NegativeInfinity : scores[i];
            if (best.Count == k && s <= best[^1].Score)
                continue;
            int at = best.Count;
            while (at > 0 && best[at - 1].Score < s)
                at--;
            best.Insert(at, new LabelScore(labels[i], i, s));
            if (best.Count > k)
                best.RemoveAt(k);
        }

        return best;
    }

    /// <summary>Scores as probabilities: a softmax copy for logits, the same array for probabilities.</summary>
    public static float[] Probabilities(float[] scores, ScoreKind kind)
    {
        ArgumentNullException.ThrowIfNull(scores);
        if (kind != ScoreKind.Logits)
            return scores;
        var probabilities = (float[])scores.Clone();
        Softmax(probabilities);
        return probabilities;
    }

    /// <summary>Probabilities (softmax where the model emits logits), then top-K.</summary>
    public static IReadOnlyList<LabelScore> Rank(float[] scores, ScoreKind kind, IReadOnlyList<string> labels, int k) =>
        TopK(Probabilities(scores, kind), labels, k);
}

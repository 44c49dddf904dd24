namespace FunctionApp.Benchmarks;

/// <summary>What the whole-process benchmarks share: waiting for a condition another process makes true, and medians.</summary>
internal static class BenchmarkMath
{
    /// <summary>Asks <paramref name="condition"/> every <paramref name="every"/> (250 ms) until it holds, or fails after <paramref name="timeout"/>.</summary>
    public static async Task Until(Func<Task<bool>> condition, TimeSpan timeout, TimeSpan? every = null)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!await condition())
        {
            if (DateTime.UtcNow > deadline)
                throw new TimeoutException($"Gave up after {timeout.TotalSeconds:F0} s.");
            await Task.Delay(every ?? TimeSpan.FromMilliseconds(250));
        }
    }

    public static double Median(IReadOnlyCollection<double> values)
    {
        var sorted = values.Order().ToList();
        return sorted.Count % 2 == 1 ? sorted[sorted.Count / 2] : (sorted[(sorted.Count / 2) - 1] + sorted[sorted.Count / 2]) / 2;
    }
}

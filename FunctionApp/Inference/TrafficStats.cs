namespace FunctionApp.Inference;

/// <summary>Requests, failures and recent latency of one model version.</summary>
public sealed record TrafficSnapshot(long Predictions, long Failures, double? P50Ms, double? P95Ms, double? MeanMs);

/// <summary>
/// Counts a model version's predictions and failures and keeps the latest inference times (a ring of
/// <see cref="Window"/>) for percentiles. Thread-safe; recording costs a lock-free increment and one slot write.
/// </summary>
public sealed class TrafficStats
{
    public const int Window = 1024;
    private readonly double[] _recent = new double[Window];
    private long _predictions;
    private long _failures;

    public void Record(TimeSpan inference)
    {
        long n = Interlocked.Increment(ref _predictions);
        Volatile.Write(ref _recent[(n - 1) % Window], inference.TotalMilliseconds);
    }

    public void RecordFailure() => Interlocked.Increment(ref _failures);

    public TrafficSnapshot Snapshot()
    {
        long n = Interlocked.Read(ref _predictions);
        int count = (int)Math.Min(n, Window);
        if (count == 0)
            return new TrafficSnapshot(n, Interlocked.Read(ref _failures), null, null, null);
        var sample = new double[count];
        for (int i = 0; i < count; i++)
            sample[i] = Volatile.Read(ref _recent[i]);
        Array.Sort(sample);
        return new TrafficSnapshot(n, Interlocked.Read(ref _failures), Percentile(sample, 0.50), Percentile(sample, 0.95), sample.Average());
    }

    private static double Percentile(double[] sorted, double p) => sorted[Math.Clamp((int)Math.Ceiling(p * sorted.Length) - 1, 0, sorted.Length - 1)];
}

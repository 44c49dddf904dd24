using FunctionApp.Inference;

namespace FunctionApp.Tests.Inference;

public class TrafficStatsTests
{
    [Fact]
    public void Snapshot_Empty_HasNoPercentiles()
    {
        var snapshot = new TrafficStats().Snapshot();

        Assert.Equal((0L, 0L, (double?)null), (snapshot.Predictions, snapshot.Failures, snapshot.P95Ms));
    }

    [Fact]
    public void Snapshot_HundredSamples_GivesNearestRankPercentiles()
    {
        var stats = new TrafficStats();
        foreach (var ms in Enumerable.Range(1, 100).Reverse())
            stats.Record(TimeSpan.FromMilliseconds(ms));
        stats.RecordFailure();

        var snapshot = stats.Snapshot();

        Assert.Equal(100, snapshot.Predictions);
        Assert.Equal(1, snapshot.Failures);
        Assert.Equal(50, snapshot.P50Ms!.Value, 6);
        Assert.Equal(95, snapshot.P95Ms!.Value, 6);
        Assert.Equal(50.5, snapshot.MeanMs!.Value, 6);
    }

    [Fact]
    public void Snapshot_MoreThanTheWindow_KeepsOnlyTheLatest()
    {
        var stats = new TrafficStats();
        for (int i = 0; i < TrafficStats.Window; i++)
            stats.Record(TimeSpan.FromMilliseconds(1000));
        for (int i = 0; i < TrafficStats.Window; i++)
            stats.Record(TimeSpan.FromMilliseconds(2));

        var snapshot = stats.Snapshot();

        Assert.Equal(2 * TrafficStats.Window, snapshot.Predictions);
        Assert.Equal(2, snapshot.P95Ms!.Value, 6);
    }

    [Fact]
    public async Task Record_FromManyThreads_CountsEveryPrediction()
    {
        var stats = new TrafficStats();

        await Parallel.ForAsync(0, 10_000, (i, _) =>
        {
            stats.Record(TimeSpan.FromMilliseconds(i % 7));
            return ValueTask.CompletedTask;
        });

        Assert.Equal(10_000, stats.Snapshot().Predictions);
    }
}

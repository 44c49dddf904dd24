using FunctionApp.Capacity;

namespace FunctionApp.Tests.Capacity;

public class CapacityModelTests
{
    private static readonly InstanceSize Small = new(512, 0.25);
    private static readonly InstanceSize Medium = new(2048, 1);
    private static readonly InstanceSize Large = new(4096, 2);

    internal static FlexPlan Plan(int alwaysReady = 1, double monthlyImages = 10_000_000) => new(
        "Flex", "USD", "test", "2026-08-08", [new PriceSource("https://example.invalid/prices", "test")],
        new FlexPrices(0.000026, 0.40, 0.000004, 0.000016, 0.40, 100_000, 250_000),
        new PriceSource("https://example.invalid/sizes", "test"),
        [Small, Medium, Large],
        new CostAssumptions(monthlyImages, alwaysReady, 2_592_000));

    /// <summary>
    /// Measurements of an ideal machine: a request alone takes 20 ms; one core serves 50 images/s, two cores 100;
    /// p95 is 1.5 times the mean; memory is 300 MB plus 50 MB an engine.
    /// </summary>
    internal static CapacityMeasurements Ideal(double memoryBase = 300) => new(
        "m", "1", 2, true, "test images", new ColdStart(300, 30, 340), new StageCost(10, 1, 1, 18, 20),
        [new MemoryPoint(1, memoryBase + 50, memoryBase + 60), new MemoryPoint(2, memoryBase + 100, memoryBase + 110), new MemoryPoint(4, memoryBase + 200, memoryBase + 210)],
        [
            new LatencyPoint(1, 1, 1, 100, 20, 19, 30, 31, 50),
            new LatencyPoint(1, 4, 1, 100, 80, 79, 120, 121, 50),
            new LatencyPoint(2, 1, 1, 100, 20, 19, 30, 31, 50),
            new LatencyPoint(2, 4, 2, 100, 40, 39, 60, 61, 100),
        ]);

    [Fact]
    public void Model_IsCalibratedOnTheMeasurements()
    {
        var model = new CapacityModel(Ideal());

        Assert.Equal(20, model.AloneMs, 6);
        Assert.Equal(20, model.ServiceMs, 6);
        Assert.Equal(1.5, model.TailFactor, 6);
        Assert.Equal(1.0, model.Efficiency(2), 6);
        Assert.Equal(300, model.MemoryBaseMb, 6);
        Assert.Equal(50, model.MemoryPerEngineMb, 6);
    }

    [Theory]
    [InlineData(1, 1, 20)]
    [InlineData(4, 1, 80)]
    [InlineData(1, 2, 20)]
    [InlineData(2, 2, 20)]
    [InlineData(8, 2, 80)]
    public void Predict_MeanIsTheLargerOfAloneAndQueueing(int concurrency, double cores, double mean)
    {
        var model = new CapacityModel(Ideal());
        var p = model.Predict(new InstanceSize(4096, cores), concurrency);

        Assert.Equal(mean, p.MeanMs, 6);
        Assert.Equal(1.5 * mean, p.P95Ms, 6);
        Assert.Equal(concurrency * 1000 / mean, p.ImagesPerSecond, 6);
        Assert.Equal(Math.Min(concurrency, (int)Math.Ceiling(cores)), p.Engines);
    }

    [Fact]
    public void Predict_AQuarterCore_IsFourTimesSlowerThanOneCore()
    {
        var model = new CapacityModel(Ideal(memoryBase: 100));
        var p = model.Predict(Small, 1);

        Assert.Equal(80, p.MeanMs, 6);
        Assert.Equal(12.5, p.ImagesPerSecond, 6);
    }

    [Fact]
    public void Recommend_PicksTheHighestConcurrencyWithinTheTarget()
    {
        var model = new CapacityModel(Ideal());

        // On one core p95 = 1.5 x max(20, 20c): 150 ms allows c = 5, not 6 (180 ms).
        var rec = model.Recommend(Medium, 150, Plan());

        Assert.Equal(5, rec.Concurrency);
        Assert.Equal(1, rec.Engines);
        Assert.Equal(150, rec.Predicted!.P95Ms, 6);
        Assert.True(model.Predict(Medium, 6).P95Ms > 150);
        Assert.False(rec.SlicingNeeded);
        Assert.NotNull(rec.Cost);
    }

    [Fact]
    public void Recommend_TwoCores_GetTwoEnginesAndTwiceTheConcurrency()
    {
        var model = new CapacityModel(Ideal());

        var rec = model.Recommend(Large, 150, Plan());

        Assert.Equal(10, rec.Concurrency);
        Assert.Equal(2, rec.Engines);
    }

    [Fact]
    public void Recommend_TargetBelowALoneRequest_SaysNoSettingMeetsIt()
    {
        var model = new CapacityModel(Ideal());

        var rec = model.Recommend(Medium, 29, Plan());

        Assert.Null(rec.Concurrency);
        Assert.Null(rec.Cost);
        Assert.False(rec.MeetsTarget);
        Assert.Contains("no setting meets the target", rec.Summary, StringComparison.Ordinal);
        Assert.Contains("30 ms", rec.Summary, StringComparison.Ordinal);
    }

    [Fact]
    public void Recommend_OneEngineLargerThanTheInstance_NeedsSlicing()
    {
        // 300 + 50 = 350 MB fits 512 MB; 480 + 50 does not, though the process without an engine (480 MB) does.
        Assert.False(new CapacityModel(Ideal(300)).Recommend(Small, 10_000, Plan()).SlicingNeeded);
        var rec = new CapacityModel(Ideal(480)).Recommend(Small, 10_000, Plan());

        Assert.True(rec.SlicingNeeded);
        Assert.Null(rec.Concurrency);
        Assert.Contains("slice the model", rec.Summary, StringComparison.Ordinal);
    }

    [Fact]
    public void Recommend_ProcessLargerThanTheInstance_SaysSlicingCannotHelp()
    {
        var rec = new CapacityModel(Ideal(600)).Recommend(Small, 10_000, Plan());

        Assert.False(rec.SlicingNeeded);
        Assert.Null(rec.Concurrency);
        Assert.Contains("slicing cannot make it fit, pick a larger size", rec.Summary, StringComparison.Ordinal);
    }

    [Fact]
    public void Recommend_MemoryCapsTheEngines()
    {
        // 400 + 50n MB: two engines (500 MB) fit a 512 MB instance; the quarter core uses one engine anyway.
        var model = new CapacityModel(Ideal(400));
        var fits = model.Predict(new InstanceSize(512, 2), 2);
        var tooBig = model.Predict(new InstanceSize(512, 3), 3);

        Assert.True(fits.FitsInMemory);
        Assert.False(tooBig.FitsInMemory);
        Assert.Equal(2, model.Recommend(new InstanceSize(512, 3), 10_000, Plan()).Engines);
    }

    [Fact]
    public void Model_WithoutAOneCoreRun_IsRefused()
    {
        var m = Ideal() with { Latency = [new LatencyPoint(2, 1, 1, 10, 20, 20, 30, 30, 50)] };

        Assert.Throws<ArgumentException>(() => new CapacityModel(m));
    }

    [Fact]
    public void FitLine_GoesThroughThePoints()
    {
        var (intercept, slope) = CapacityModel.FitLine([(1, 350), (2, 400), (4, 500)]);

        Assert.Equal(300, intercept, 6);
        Assert.Equal(50, slope, 6);
        Assert.Equal((42.0, 0.0), CapacityModel.FitLine([(3, 42)]));
    }

    [Fact]
    public void Percentile_IsTheNearestRank()
    {
        var values = Enumerable.Range(1, 20).Select(i => (double)i).ToList();

        Assert.Equal(19, CapacityProbe.Percentile(values, 0.95));
        Assert.Equal(10, CapacityProbe.Percentile(values, 0.50));
        Assert.Equal(20, CapacityProbe.Percentile(values, 0.99));
    }
}

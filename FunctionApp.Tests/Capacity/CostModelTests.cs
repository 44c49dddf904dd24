using FunctionApp.Capacity;

namespace FunctionApp.Tests.Capacity;

public class CostModelTests
{
    [Fact]
    public void OnDemand_IsMemoryTimesBusySecondsTimesPricePlusExecutions()
    {
        var plan = CapacityModelTests.Plan();

        // 2 GB busy 1/40 s per image: 1e6 x 2 / 40 = 50,000 GB-s x 0.000026 = 1.30, + 0.40 per million executions.
        var cost = CostModel.Estimate(new InstanceSize(2048, 1), 40, plan);

        Assert.Equal(50_000, cost.GbSecondsPerMillion, 6);
        Assert.Equal(1.70, cost.OnDemandPerMillion, 9);
        Assert.Contains("= 50,000 GB-s", cost.OnDemandFormula, StringComparison.Ordinal);
        Assert.EndsWith("= 1.70 USD", cost.OnDemandFormula, StringComparison.Ordinal);
    }

    [Fact]
    public void AlwaysReady_AddsTheBaselineSpreadOverTheMonthlyVolume()
    {
        var plan = CapacityModelTests.Plan(alwaysReady: 1, monthlyImages: 10_000_000);

        // One 2 GB instance at 40 images/s has time for 103,680,000 images a month: all 10 million go to it, at
        // 50,000 GB-s x 0.000016 + 0.40 = 1.20 per million; the baseline 2 x 2,592,000 x 0.000004 = 20.736 a month
        // adds 2.0736 per million.
        var cost = CostModel.Estimate(new InstanceSize(2048, 1), 40, plan);

        Assert.Equal(1.0, cost.AlwaysReadyShare, 9);
        Assert.Equal(20.736, cost.BaselinePerMonth, 9);
        Assert.Equal(1.20 + 2.0736, cost.WithAlwaysReadyPerMillion, 9);
        Assert.EndsWith("= 3.27 USD", cost.AlwaysReadyFormula, StringComparison.Ordinal);
    }

    [Fact]
    public void AlwaysReady_MoreImagesThanItHasTimeFor_SendsTheRestOnDemand()
    {
        var plan = CapacityModelTests.Plan(alwaysReady: 1, monthlyImages: 259_200_000);

        // At 50 images/s one instance serves 129,600,000 a month: half the volume.
        var cost = CostModel.Estimate(new InstanceSize(2048, 1), 50, plan);
        double gbs = 1e6 * 2 / 50;
        double expected = 0.5 * (gbs * 0.000016 + 0.40) + 0.5 * (gbs * 0.000026 + 0.40) + 20.736 / 259.2;

        Assert.Equal(0.5, cost.AlwaysReadyShare, 9);
        Assert.Equal(expected, cost.WithAlwaysReadyPerMillion, 9);
    }

    [Fact]
    public void NoAlwaysReady_CostsTheSameAsOnDemand()
    {
        var cost = CostModel.Estimate(new InstanceSize(512, 0.25), 10, CapacityModelTests.Plan(alwaysReady: 0));

        Assert.Equal(cost.OnDemandPerMillion, cost.WithAlwaysReadyPerMillion, 12);
        Assert.Equal(0, cost.BaselinePerMonth);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-1)]
    [InlineData(double.NaN)]
    [InlineData(double.PositiveInfinity)]
    public void Estimate_WithoutThroughput_IsRefused(double imagesPerSecond) =>
        Assert.Throws<ArgumentOutOfRangeException>(() => CostModel.Estimate(new InstanceSize(2048, 1), imagesPerSecond, CapacityModelTests.Plan()));

    [Fact]
    public void ShippedPriceTable_LoadsWithDatesSourcesAndTheThreeSizes()
    {
        var plan = FlexPlan.Load(FlexPlan.DefaultPath);

        Assert.Matches(@"^\d{4}-\d{2}-\d{2}$", plan.PricesAsOf);
        Assert.All(plan.PriceSources, s => Assert.StartsWith("https://", s.Url, StringComparison.Ordinal));
        Assert.Equal([512, 2048, 4096], plan.InstanceSizes.Select(s => s.MemoryMb));
        Assert.Equal([0.25, 1, 2], plan.InstanceSizes.Select(s => s.CpuCores));
        Assert.True(plan.Prices.OnDemandPerGbSecond > 0);
    }

    [Fact]
    public void PriceTable_Broken_SaysWhy()
    {
        using var temp = new Support.TempDirectory();
        var path = Path.Combine(temp.Path, "prices.json");
        File.WriteAllText(path, "{\"plan\":\"x\",\"currency\":\"USD\",\"prices\":{\"onDemandPerGbSecond\":-1}}");

        var ex = Assert.Throws<ArgumentException>(() => FlexPlan.Load(path));

        Assert.Contains("pricesAsOf", ex.Message, StringComparison.Ordinal);
        Assert.Contains("must not be negative", ex.Message, StringComparison.Ordinal);
        File.WriteAllText(path, "not json");
        Assert.Contains("not valid JSON", Assert.Throws<ArgumentException>(() => FlexPlan.Load(path)).Message, StringComparison.Ordinal);
    }
}

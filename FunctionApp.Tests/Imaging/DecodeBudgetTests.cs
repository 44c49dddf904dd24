using FunctionApp.Imaging;
using Microsoft.Extensions.Options;

namespace FunctionApp.Tests.Imaging;

public class DecodeBudgetTests
{
    private static DecodeBudget Budget(long mib) => new(Options.Create(new ImageLimitsOptions { MaxDecodedBytesInFlight = mib * 1024 * 1024 }));

    [Fact]
    public async Task Acquire_OverTheBudget_WaitsUntilEnoughIsGivenBack()
    {
        var budget = Budget(100);
        var first = await budget.AcquireAsync(60L * 1024 * 1024);
        var second = budget.AcquireAsync(60L * 1024 * 1024).AsTask();

        Assert.False(second.IsCompleted, "60 + 60 MiB is over a 100 MiB budget");
        first.Dispose();
        using var granted = await second.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(60L * 1024 * 1024, budget.InFlight);
    }

    [Fact]
    public async Task Granted_CountsEveryShareGivenOut_AtOnceOrAfterWaiting_AndNothingCancelled()
    {
        var budget = Budget(100);
        var first = await budget.AcquireAsync(60L * 1024 * 1024);
        var waiting = budget.AcquireAsync(50L * 1024 * 1024).AsTask();
        using var cancel = new CancellationTokenSource();
        var cancelled = budget.AcquireAsync(10L * 1024 * 1024, cancel.Token).AsTask();
        await cancel.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => cancelled);
        Assert.Equal(60L * 1024 * 1024, budget.Granted);

        first.Dispose();
        (await waiting.WaitAsync(TimeSpan.FromSeconds(10))).Dispose();
        Assert.Equal(110L * 1024 * 1024, budget.Granted);
        Assert.Equal(0, budget.InFlight);
    }

    [Fact]
    public async Task Acquire_LargerThanTheWholeBudget_GoesThroughAloneAtTheHead()
    {
        var budget = Budget(100);
        using (var alone = await budget.AcquireAsync(500L * 1024 * 1024).AsTask().WaitAsync(TimeSpan.FromSeconds(10)))
            Assert.Equal(budget.Capacity, budget.InFlight);
        Assert.Equal(0, budget.InFlight);
    }

    [Fact]
    public async Task Acquire_InArrivalOrder_ASmallRequestDoesNotOvertakeAWaitingLargeOne()
    {
        var budget = Budget(100);
        var held = await budget.AcquireAsync(90L * 1024 * 1024);
        var large = budget.AcquireAsync(50L * 1024 * 1024).AsTask();
        var small = budget.AcquireAsync(5L * 1024 * 1024).AsTask();

        Assert.False(small.IsCompleted, "5 MiB would fit, but a larger request waits ahead of it");
        held.Dispose();
        (await large.WaitAsync(TimeSpan.FromSeconds(10))).Dispose();
        (await small.WaitAsync(TimeSpan.FromSeconds(10))).Dispose();
        Assert.Equal(0, budget.InFlight);
    }

    [Fact]
    public async Task Acquire_CancelledWhileWaiting_TakesNothing()
    {
        var budget = Budget(100);
        var held = await budget.AcquireAsync(100L * 1024 * 1024);
        using var cancel = new CancellationTokenSource();
        var waiting = budget.AcquireAsync(10L * 1024 * 1024, cancel.Token).AsTask();

        await cancel.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => waiting);
        held.Dispose();

        Assert.Equal(0, budget.InFlight);
        (await budget.AcquireAsync(100L * 1024 * 1024).AsTask().WaitAsync(TimeSpan.FromSeconds(10))).Dispose();
    }
}

using FunctionApp.Inference;

namespace FunctionApp.Tests.Inference;

/// <summary>
/// Collection counts are the process's: these run alone (see <see cref="ProcessWideHeap"/>), so that only their own
/// allocations count toward the budget.
/// </summary>
[Collection(nameof(ProcessWideHeap))]
public sealed class Gen0PacingTests
{
    private const long Budget = 1 << 20;

    [Fact]
    public void AfterRun_OnceTheBudgetIsAllocated_CollectsGenerationZero()
    {
        // The collector may run one of its own while the garbage is made; then the count starts over and a later
        // round collects. Five rounds of twice the budget leave it every chance.
        bool collected = false;
        for (int round = 0; round < 5 && !collected; round++)
        {
            MakeGarbage(2 * Budget);
            int before = GC.CollectionCount(0);
            collected = Gen0Pacing.AfterRun(Budget);
            if (collected)
                Assert.True(GC.CollectionCount(0) > before, "it said it collected, but generation 0 was not collected");
        }

        Assert.True(collected, "no collection after five times twice the budget");

        // Just after its own collection, a run that allocated next to nothing collects nothing.
        int after = GC.CollectionCount(0);
        Assert.False(Gen0Pacing.AfterRun(Budget));
        Assert.Equal(after, GC.CollectionCount(0));
    }

    [Fact]
    public void AfterRun_Off_NeverCollects()
    {
        MakeGarbage(4 * Budget);

        Assert.False(Gen0Pacing.AfterRun(0));
        Assert.False(Gen0Pacing.AfterRun(-1));
    }

    /// <summary>Small arrays (under the large-object threshold) that nothing keeps.</summary>
    private static void MakeGarbage(long bytes)
    {
        long sum = 0;
        for (long made = 0; made < bytes; made += 16 << 10)
        {
            var block = new byte[16 << 10];
            block[made % block.Length] = 1;
            sum += block[0];
        }

        GC.KeepAlive(sum);
    }
}

using System.Runtime;
using FunctionApp.Imaging;
using FunctionApp.Inference;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace FunctionApp.Hosting;

/// <summary>
/// Gives memory back to the OS once a burst of work is over. The .NET garbage collector runs only when code allocates,
/// so after a burst of large images an idle process keeps what the burst took; and the C allocator keeps the pages of
/// freed native bitmaps for reuse. When the process has allocated a lot since the last time and then stays quiet for
/// a few seconds (no decode in flight, little allocation), this compacts the managed heap, decommits what it no
/// longer needs, and asks the C allocator to return its free pages (<c>malloc_trim</c>, on Linux with glibc).
/// </summary>
public sealed partial class MemoryTrimmer(DecodeBudget decodes, TimeProvider time, ILogger<MemoryTrimmer> logger) : BackgroundService
{
    /// <summary>How much must have been allocated since the last trim for another to be worth its pause.</summary>
    public const long BurstBytes = 256L * 1024 * 1024;

    /// <summary>Allocation per check below which the process counts as quiet.</summary>
    public const long QuietBytes = 32L * 1024 * 1024;

    private static readonly TimeSpan Every = TimeSpan.FromSeconds(5);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        long sinceTrim = Work();
        long lastCheck = sinceTrim;
        using var timer = new PeriodicTimer(Every, time);
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            long now = Work();
            bool quiet = now - lastCheck < QuietBytes && decodes.InFlight == 0;
            lastCheck = now;
            if (!quiet || now - sinceTrim < BurstBytes)
                continue;
            long before = Environment.WorkingSet;
            Trim();
            sinceTrim = Work();
            long managed = GC.GetGCMemoryInfo().TotalCommittedBytes;
            LogTrimmed((before - Environment.WorkingSet) / (1024 * 1024), Environment.WorkingSet / (1024 * 1024), managed / (1024 * 1024));
        }
    }

    /// <summary>
    /// What the process has allocated so far, all told: managed bytes, and the decoded pixels (native memory the garbage
    /// collector does not count), so that a burst of large images counts even when it allocated little managed memory.
    /// </summary>
    private long Work() => GC.GetTotalAllocatedBytes() + decodes.Granted;

    /// <summary>Compacts the managed heap and returns free memory, managed and native, to the OS.</summary>
    public static void Trim()
    {
        GCSettings.LargeObjectHeapCompactionMode = GCLargeObjectHeapCompactionMode.CompactOnce;
        GC.Collect(GC.MaxGeneration, GCCollectionMode.Aggressive, blocking: true, compacting: true);
        NativeHeap.Trim();
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Returned {FreedMiB} MiB to the system after a burst of work; {WorkingSetMiB} MiB in use, {ManagedMiB} MiB of it by the managed heap")]
    private partial void LogTrimmed(long freedMiB, long workingSetMiB, long managedMiB);
}

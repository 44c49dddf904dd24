using System.Diagnostics;
using FunctionApp.Classification;
using FunctionApp.Inference;

namespace FunctionApp.Capacity;

/// <summary>How thorough a measurement is.</summary>
public sealed record ProbePlan(IReadOnlyList<int> Concurrency, IReadOnlyList<int> EngineCounts, int StageImages, int BaseRequests, int RequestsPerConcurrency)
{
    /// <summary>Coarse: for CI and first looks (well under two minutes for a ResNet-18 on two cores).</summary>
    public static ProbePlan Quick { get; } = new([1, 2, 4, 8], [1, 2, 4], 16, 20, 4);

    /// <summary>Every concurrency from 1 to 8 and more requests at each.</summary>
    public static ProbePlan Full { get; } = new([1, 2, 3, 4, 5, 6, 7, 8], [1, 2, 3, 4, 6, 8], 60, 60, 10);

    public int Requests(int concurrency) => BaseRequests + RequestsPerConcurrency * concurrency;
}

/// <summary>
/// Measures a model through the app's serving path on this machine: per-stage cost per image, memory by engine count,
/// latency percentiles against concurrency on one and more cores, and the cold start.
/// </summary>
public sealed class CapacityProbe(Func<ServingSetting, IServingStack> serving, IReadOnlyList<byte[]> images)
{
    private int _next;

    /// <summary>Runs every measurement; <paramref name="cores"/> are the core counts to sweep (each at most the machine's).</summary>
    public async Task<CapacityMeasurements> MeasureAsync(ProbePlan plan, IReadOnlyList<int> cores, string imagesUsed, IProgress<(int Done, int Total)>? progress, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(plan);
        ArgumentNullException.ThrowIfNull(cores);
        int total = 2 + plan.EngineCounts.Count + cores.Count * plan.Concurrency.Count;
        int done = 0;
        void Step() => progress?.Report((++done, total));

        var (model, version, cold) = await ColdStartAsync(cancellationToken);
        Step();
        var memory = new List<MemoryPoint>();
        foreach (int engines in plan.EngineCounts)
        {
            memory.Add(await MemoryAsync(engines, cancellationToken));
            Step();
        }

        bool limited = CoreLimit.Supported;
        var stages = await StagesAsync(plan.StageImages, cancellationToken);
        Step();
        var latency = new List<LatencyPoint>();
        foreach (int k in cores)
        {
            foreach (int c in plan.Concurrency)
            {
                latency.Add(await LatencyAsync(k, c, Math.Min(c, k), plan.Requests(c), cancellationToken));
                Step();
            }
        }

        return new CapacityMeasurements(model, version, CoreLimit.AvailableCores, limited, imagesUsed, cold, stages, memory, latency);
    }

    /// <summary>Single-image requests kept <paramref name="concurrency"/> at a time on <paramref name="cores"/> cores, one inference thread per engine.</summary>
    public async Task<LatencyPoint> LatencyAsync(int cores, int concurrency, int engines, int requests, CancellationToken cancellationToken)
    {
        await using var stack = serving(new ServingSetting(1, engines));
        using var limit = CoreLimit.Apply(cores);

        // Warm up: load the model and create every engine before the clock starts.
        await RunClosedLoopAsync(stack, concurrency, Math.Max(concurrency, engines) * 2, cancellationToken);
        var (latencies, elapsed) = await RunClosedLoopAsync(stack, concurrency, requests, cancellationToken);
        latencies.Sort();
        return new LatencyPoint(cores, concurrency, engines, latencies.Count, latencies.Average(), Percentile(latencies, 0.50), Percentile(latencies, 0.95), Percentile(latencies, 0.99),
            latencies.Count / elapsed.TotalSeconds);
    }

    private async Task<(string Model, string Version, ColdStart Cold)> ColdStartAsync(CancellationToken cancellationToken)
    {
        await using var stack = serving(new ServingSetting(1, 1));
        long start = Stopwatch.GetTimestamp();
        var answer = await stack.Classifier.ClassifyAsync(new NamedImage("cold", images[0]), stack.Model, 1, cancellationToken);
        var first = Stopwatch.GetElapsedTime(start);
        using var lease = await stack.Classifier.LeaseLoadedPoolAsync(stack.Model, cancellationToken);
        var facts = lease.Pool.ColdStart;
        return (answer.Model, answer.Version, new ColdStart(facts.LoadTime?.TotalMilliseconds ?? 0, facts.FirstPredictionTime?.TotalMilliseconds ?? 0, first.TotalMilliseconds));
    }

    private async Task<MemoryPoint> MemoryAsync(int engines, CancellationToken cancellationToken)
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        await using var stack = serving(new ServingSetting(1, engines));
        using var process = Process.GetCurrentProcess();
        long peak = 0;
        void Sample()
        {
            process.Refresh();
            peak = Math.Max(peak, process.WorkingSet64);
        }

        // Requests engines-at-a-time until the pool holds that many engines (a free engine is reused, so it may take a few rounds).
        using var lease = await stack.Classifier.LeaseLoadedPoolAsync(stack.Model, cancellationToken);
        var pool = lease.Pool;
        for (int round = 0; round < 20 && pool.EngineCount < engines; round++)
        {
            await RunClosedLoopAsync(stack, engines, engines, cancellationToken);
            Sample();
        }

        await RunClosedLoopAsync(stack, engines, engines * 2, cancellationToken);
        Sample();

        // What stays with the pool loaded, without the garbage its requests left.
        GC.Collect();
        GC.WaitForPendingFinalizers();
        process.Refresh();
        return new MemoryPoint(pool.EngineCount, process.WorkingSet64 / 1048576.0, peak / 1048576.0);
    }

    private async Task<StageCost> StagesAsync(int count, CancellationToken cancellationToken)
    {
        await using var stack = serving(new ServingSetting(1, 1));
        using var limit = CoreLimit.Apply(1);
        await stack.Classifier.ClassifyAsync(new NamedImage("warm", images[0]), stack.Model, 1, cancellationToken);
        double decode = 0, preprocess = 0, inference = 0;
        using var process = Process.GetCurrentProcess();
        process.Refresh();
        var cpuBefore = process.TotalProcessorTime;
        for (int i = 0; i < count; i++)
        {
            var answer = await stack.Classifier.ClassifyAsync(new NamedImage("stage", images[i % images.Count]), stack.Model, 1, cancellationToken);
            var t = answer.Images[0].Timings!;
            decode += t.DecodeMs;
            preprocess += t.PreprocessMs;
            inference += t.InferenceMs;
        }

        process.Refresh();
        double cpu = (process.TotalProcessorTime - cpuBefore).TotalMilliseconds;
        return new StageCost(count, decode / count, preprocess / count, inference / count, cpu / count);
    }

    /// <summary>
    /// Runs <paramref name="requests"/> single-image requests, <paramref name="concurrency"/> in flight at a time. Inference
    /// blocks its thread, so the thread pool is first given a thread for each request in flight (as a busy server's pool
    /// grows to), or the requests would run only as many at a time as the pool happened to have threads.
    /// </summary>
    private async Task<(List<double> Latencies, TimeSpan Elapsed)> RunClosedLoopAsync(IServingStack stack, int concurrency, int requests, CancellationToken cancellationToken)
    {
        ThreadPool.GetMinThreads(out int workers0, out int io0);
        ThreadPool.SetMinThreads(Math.Max(workers0, concurrency + 4), io0);
        try
        {
            return await ClosedLoopAsync(stack, concurrency, requests, cancellationToken);
        }
        finally
        {
            ThreadPool.SetMinThreads(workers0, io0);
        }
    }

    private async Task<(List<double> Latencies, TimeSpan Elapsed)> ClosedLoopAsync(IServingStack stack, int concurrency, int requests, CancellationToken cancellationToken)
    {
        var latencies = new List<double>(requests);
        var gate = new Lock();
        int issued = 0;
        long start = Stopwatch.GetTimestamp();
        var workers = Enumerable.Range(0, concurrency).Select(_ => Task.Run(async () =>
        {
            while (Interlocked.Increment(ref issued) <= requests)
            {
                var image = images[(int)((uint)Interlocked.Increment(ref _next) % (uint)images.Count)];
                long t0 = Stopwatch.GetTimestamp();
                await stack.Classifier.ClassifyAsync(new NamedImage("probe", image), stack.Model, 1, cancellationToken);
                double ms = Stopwatch.GetElapsedTime(t0).TotalMilliseconds;
                lock (gate)
                    latencies.Add(ms);
            }
        }, cancellationToken)).ToList();
        await Task.WhenAll(workers);
        return (latencies, Stopwatch.GetElapsedTime(start));
    }

    /// <summary>The nearest-rank percentile of sorted values.</summary>
    public static double Percentile(IReadOnlyList<double> sorted, double quantile)
    {
        ArgumentNullException.ThrowIfNull(sorted);
        if (sorted.Count == 0)
            return double.NaN;
        int rank = (int)Math.Ceiling(quantile * sorted.Count);
        return sorted[Math.Clamp(rank - 1, 0, sorted.Count - 1)];
    }
}

using FunctionApp.Inference;
using FunctionApp.Tests.Support;
using FunctionApp.Telemetry;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace FunctionApp.Tests.Inference;

public class EnginePoolTests : IDisposable
{
    private readonly TempDirectory _temp = new();
    private readonly string _package;

    public EnginePoolTests()
    {
        _package = TinyCnn.WritePackage(_temp.Sub("tiny"));
    }

    public void Dispose()
    {
        _temp.Dispose();
        GC.SuppressFinalize(this);
    }

    private InferencePipeline Load() => InferencePipeline.Create(ModelPackage.Open(_package), new OnnxRuntimeOptions { IntraOpThreads = 1 });

    private static EnginePool Pool(Func<InferencePipeline> load, int maxEngines = 4, BatchScoring batchScoring = BatchScoring.ParallelEngines) =>
        new("tiny-cnn", "1", load, new EnginePoolOptions { MaxEngines = maxEngines, BatchScoring = batchScoring }, NullLogger<EnginePool>.Instance);

    /// <summary>The pipeline a <see cref="PoolLoading"/> pool loaded.</summary>
    private sealed class Loaded
    {
        public InferencePipeline? Pipeline { get; set; }
    }

    /// <summary>A pool whose load hands over a pipeline <paramref name="prepare"/> has had its way with (warmed, or its warm-up announced).</summary>
    private EnginePool PoolLoading(Action<InferencePipeline> prepare, Loaded loaded) => Pool(() =>
    {
        loaded.Pipeline = Load();
        prepare(loaded.Pipeline);
        return loaded.Pipeline;
    });

    /// <summary>A tensor whose tensor-channel c holds value v[c] (BGR order, so channel 2 is red).</summary>
    private static float[] Tensor(float blue, float green, float red)
    {
        var t = new float[3 * 64];
        Array.Fill(t, blue, 0, 64);
        Array.Fill(t, green, 64, 64);
        Array.Fill(t, red, 128, 64);
        return t;
    }

    [Fact]
    public async Task ColdStart_ReadWhileManyCallersLoadAndScore_IsAlwaysOneConsistentSnapshot()
    {
        await using var pool = Pool(Load);
        var facts = new System.Collections.Concurrent.ConcurrentBag<ColdStartFacts>();
        using var stop = new CancellationTokenSource();
        var reader = Task.Run(() =>
        {
            while (!stop.IsCancellationRequested)
                facts.Add(pool.ColdStart);
        });

        await Task.WhenAll(Enumerable.Range(0, 32).Select(i => Task.Run(async () => await pool.ScoreAsync(Tensor(i, 0, 0)))));
        await stop.CancelAsync();
        await reader;
        facts.Add(pool.ColdStart);

        Assert.All(facts, f =>
        {
            // Loaded always comes with its load time and moment; a first prediction only after loading; no error.
            Assert.Equal(f.State == ModelLoadState.Loaded, f.LoadTime is not null && f.LoadedAt is not null);
            Assert.True(f.FirstPredictionTime is null || f.State == ModelLoadState.Loaded);
            Assert.Null(f.LastError);
            Assert.InRange(f.LoadAttempts, f.State == ModelLoadState.NotLoaded ? 0 : 1, 1);
        });
        Assert.Contains(facts, f => f.FirstPredictionTime is not null);
    }

    [Fact]
    public async Task ScoreAsync_ManyConcurrentFirstCallers_LoadOnceAndAllGetTheirOwnAnswer()
    {
        int loads = 0;
        using var gate = new ManualResetEventSlim(false);
        var loading = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var pool = Pool(() =>
        {
            Interlocked.Increment(ref loads);
            loading.TrySetResult();
            gate.Wait(TimeSpan.FromSeconds(10)); // hold the load so every caller piles up behind it
            return Load();
        });

        var callers = Enumerable.Range(0, 64).Select(i => Task.Run(async () =>
        {
            var scores = await pool.ScoreAsync(Tensor(i % 3 == 0 ? i : 0, i % 3 == 1 ? i : 0, i % 3 == 2 ? i : 0));
            return (i, scores);
        })).ToList();
        await loading.Task.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.False(pool.IsLoaded);
        Assert.Equal(ModelLoadState.Loading, pool.ColdStart.State);
        gate.Set();
        var results = await Task.WhenAll(callers);

        Assert.Equal(1, loads);
        foreach (var (i, scores) in results)
        {
            Assert.Equal(3, scores.Length);
            Assert.Equal((float)i, scores[i % 3], 1e-3f);
            if (i > 0)
                Assert.Equal(i % 3, Array.IndexOf(scores, scores.Max()));
        }

        Assert.InRange(pool.EngineCount, 1, 4);
        Assert.Equal(ModelLoadState.Loaded, pool.ColdStart.State);
        Assert.NotNull(pool.ColdStart.LoadTime);
        Assert.NotNull(pool.ColdStart.FirstPredictionTime);
    }

    [Fact]
    public async Task ScoreAsync_AfterFailedLoad_ReportsTheErrorThenRetries()
    {
        int attempts = 0;
        await using var pool = Pool(() => ++attempts == 1 ? throw new IOException("disk not ready") : Load());

        var first = await Assert.ThrowsAsync<ModelLoadException>(() => pool.ScoreAsync(Tensor(1, 0, 0)).AsTask());
        Assert.Contains("disk not ready", first.Message);
        Assert.Equal(ModelLoadState.Failed, pool.ColdStart.State);
        Assert.Equal("disk not ready", pool.ColdStart.LastError);

        var scores = await pool.ScoreAsync(Tensor(1, 0, 0));

        Assert.Equal(2, attempts);
        Assert.Equal(1f, scores[0], 1e-4f);
        Assert.Equal(ModelLoadState.Loaded, pool.ColdStart.State);
        Assert.Null(pool.ColdStart.LastError);
        Assert.Equal(2, pool.ColdStart.LoadAttempts);
    }

    [Fact]
    public async Task ScoreAsync_UnderLoad_NeverCreatesMoreEnginesThanTheLimit()
    {
        await using var pool = Pool(Load, maxEngines: 2);

        await Parallel.ForAsync(0, 200, new ParallelOptions { MaxDegreeOfParallelism = 16 }, async (i, ct) =>
        {
            var scores = await pool.ScoreAsync(Tensor(0, i, 0), ct);
            Assert.Equal((float)i, scores[1], 1e-3f);
        });

        Assert.InRange(pool.EngineCount, 1, 2);
    }

    [Theory]
    [InlineData(BatchScoring.ParallelEngines)]
    [InlineData(BatchScoring.DataView)]
    public async Task ScoreBatchAsync_GivesTheSameScoresAsSingleCallsInOrder(BatchScoring batchScoring)
    {
        await using var pool = Pool(Load, batchScoring: batchScoring);
        var tensors = Enumerable.Range(1, 25).Select(i => Tensor(i, 2 * i, 3 * i)).ToList();

        var batch = await pool.ScoreBatchAsync(tensors);

        for (int i = 0; i < tensors.Count; i++)
            Assert.Equal(await pool.ScoreAsync(tensors[i]), batch[i]);
    }

    [Fact]
    public async Task DisposeAsync_WaitsForInFlightWorkThenRefusesNewWork()
    {
        var pool = Pool(Load, maxEngines: 2);
        await pool.ScoreAsync(Tensor(1, 1, 1));

        var inFlight = Enumerable.Range(0, 20).Select(_ => Task.Run(() => pool.ScoreAsync(Tensor(0, 0, 1)).AsTask())).ToList();
        await pool.DisposeAsync();

        foreach (var task in inFlight)
        {
            try
            {
                Assert.Equal(1f, (await task)[2], 1e-4f);
            }
            catch (ObjectDisposedException)
            {
                // Arrived after disposal began: refused cleanly rather than run on a released model.
            }
        }

        await Assert.ThrowsAnyAsync<ObjectDisposedException>(() => pool.ScoreAsync(Tensor(0, 0, 1)).AsTask());
    }

    [Fact]
    public void ColdStart_BeforeFirstUse_IsNotLoaded()
    {
        var pool = Pool(() => throw new InvalidOperationException("must not load"));

        Assert.Equal(ModelLoadState.NotLoaded, pool.ColdStart.State);
        Assert.Equal(0, pool.ColdStart.LoadAttempts);
        Assert.False(pool.IsLoaded);
    }

    private InferencePipeline LoadTwoThreaded() => InferencePipeline.Create(ModelPackage.Open(_package), new OnnxRuntimeOptions { IntraOpThreads = 2 });

    private static EnginePool PoolWithLoneSession(Func<InferencePipeline> load, Func<InferencePipeline> loadLone, TimeSpan? delay = null) =>
        new("tiny-cnn", "1", load, new EnginePoolOptions { MaxEngines = 2, LoneSessionDelay = delay ?? TimeSpan.Zero }, NullLogger<EnginePool>.Instance, lone: new LoneSession(loadLone, 2));

    /// <summary>What the tiny model answers for <see cref="Tensor"/>: each channel's mean.</summary>
    private static float[] Means(float blue, float green, float red) => [blue, green, red];

    private static async Task Eventually(Func<bool> condition)
    {
        for (var deadline = DateTime.UtcNow.AddSeconds(30); !condition() && DateTime.UtcNow < deadline;)
            await Task.Delay(10);
        Assert.True(condition());
    }

    [Fact]
    public async Task LoneSession_LoadsAfterTheFirstPrediction_ThenServesEveryRunThatStartsAlone_WithTheSameScores()
    {
        int loneLoads = 0;
        await using var pool = PoolWithLoneSession(Load, () =>
        {
            Interlocked.Increment(ref loneLoads);
            return LoadTwoThreaded();
        });
        Assert.False(pool.LoneSessionLoaded);

        Assert.Equal(Means(1, 2, 3), await pool.ScoreAsync(Tensor(1, 2, 3)));
        await Eventually(() => pool.LoneSessionLoaded);

        for (int i = 1; i <= 10; i++)
            Assert.Equal(Means(i, 2f * i, 3f * i), await pool.ScoreAsync(Tensor(i, 2 * i, 3 * i)));
        Assert.Equal(10, pool.LoneRuns);
        Assert.Equal(1, loneLoads);
        Assert.Equal(1, pool.EngineCount);
    }

    [Fact]
    public async Task LoneSession_AnotherRequestInProgress_RunsOnAPooledEngine_AndAloneAgainTakesTheLoneSession()
    {
        await using var pool = PoolWithLoneSession(Load, LoadTwoThreaded);
        await pool.ScoreAsync(Tensor(1, 1, 1));
        await Eventually(() => pool.LoneSessionLoaded);
        long before = pool.LoneRuns;

        using (pool.BeginRequest())
        {
            // A second request is decoding (marked, not yet running): this run is not alone.
            using (pool.BeginRequest())
                Assert.Equal(Means(2, 2, 2), await pool.ScoreAsync(Tensor(2, 2, 2)));
            Assert.Equal(before, pool.LoneRuns);

            // The other request has ended: this one is alone again.
            Assert.Equal(Means(3, 3, 3), await pool.ScoreAsync(Tensor(3, 3, 3)));
            Assert.Equal(before + 1, pool.LoneRuns);
        }
    }

    [Fact]
    public async Task LoneSession_ConcurrentRuns_UseThePooledEnginesAndEachGetsItsOwnAnswer()
    {
        await using var pool = PoolWithLoneSession(Load, LoadTwoThreaded);
        await pool.ScoreAsync(Tensor(1, 1, 1));
        await Eventually(() => pool.LoneSessionLoaded);

        await Parallel.ForAsync(0, 200, new ParallelOptions { MaxDegreeOfParallelism = 16 }, async (i, ct) =>
            Assert.Equal(Means(i, 0, 1), await pool.ScoreAsync(Tensor(i, 0, 1), ct)));

        // The one lone engine is never shared (every caller got its own answer) and the pool stays within its limit;
        // how many runs found the pool idle depends on timing (this model runs in microseconds).
        Assert.InRange(pool.LoneRuns, 1, 200);
        Assert.InRange(pool.EngineCount, 1, 2);
    }

    [Fact]
    public async Task LoneSession_WhenItsLoadFails_RunsGoOnOnThePooledEngines()
    {
        var failed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var pool = PoolWithLoneSession(Load, () =>
        {
            failed.TrySetResult();
            throw new IOException("disk not ready");
        });

        await pool.ScoreAsync(Tensor(1, 1, 1));
        await failed.Task.WaitAsync(TimeSpan.FromSeconds(30));

        Assert.Equal(Means(4, 5, 6), await pool.ScoreAsync(Tensor(4, 5, 6)));
        Assert.False(pool.LoneSessionLoaded);
        Assert.Equal(0, pool.LoneRuns);
        Assert.Equal(ModelLoadState.Loaded, pool.ColdStart.State);
    }

    [Fact]
    public async Task DisposeAsync_WhileTheLoneSessionWaitsToLoad_CancelsItsLoad()
    {
        int loneLoads = 0;
        var pool = PoolWithLoneSession(Load, () =>
        {
            Interlocked.Increment(ref loneLoads);
            return LoadTwoThreaded();
        }, delay: TimeSpan.FromHours(1));
        await pool.ScoreAsync(Tensor(1, 1, 1));

        await pool.DisposeAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(30));

        Assert.Equal(0, loneLoads);
        Assert.False(pool.LoneSessionLoaded);
    }

    [Fact]
    public async Task DisposeAsync_WhileTheLoneSessionLoads_WaitsForTheLoadAndReleasesWhatItLoaded()
    {
        using var gate = new ManualResetEventSlim(false);
        var loading = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        InferencePipeline? loaded = null;
        var pool = PoolWithLoneSession(Load, () =>
        {
            loading.TrySetResult();
            gate.Wait(TimeSpan.FromSeconds(30));
            return loaded = LoadTwoThreaded();
        });
        await pool.ScoreAsync(Tensor(1, 1, 1));
        await loading.Task.WaitAsync(TimeSpan.FromSeconds(30));

        var disposing = pool.DisposeAsync().AsTask();
        Assert.False(disposing.IsCompleted);
        gate.Set();
        await disposing.WaitAsync(TimeSpan.FromSeconds(30));

        Assert.NotNull(loaded);
        Assert.False(pool.LoneSessionLoaded);
        Assert.True(loaded.IsDisposed);
    }

    [Fact]
    public async Task Registry_WithLoneRunThreadsAboveTheIntraOpThreads_GivesEachVersionALoneSession()
    {
        using var meters = new ServiceCollection().AddMetrics().BuildServiceProvider();
        var metrics = new InferenceMetrics(meters.GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>());
        var runtime = new OnnxRuntimeOptions { IntraOpThreads = 1, LoneRunThreads = 2 };
        await using var registry = new EnginePoolRegistry(
            Options.Create(new EnginePoolOptions { MaxEngines = 2, LoneSessionDelay = TimeSpan.Zero }), Options.Create(runtime), NullLoggerFactory.Instance, metrics);
        var pool = registry.GetPool(new ModelEntry("tiny-cnn", "1", _package));

        await pool.ScoreAsync(Tensor(1, 1, 1));
        await Eventually(() => pool.LoneSessionLoaded);

        Assert.Equal(Means(7, 8, 9), await pool.ScoreAsync(Tensor(7, 8, 9)));
        Assert.Equal(1, pool.LoneRuns);
    }

    [Theory]
    [InlineData(0, false)]
    [InlineData(60_000, true)]
    public async Task Registry_AutomaticLoneRunThreads_GivesALoneSessionOnlyToAModelWhoseFirstRunTookLongEnough(int minFirstRunMs, bool tooFast)
    {
        using var meters = new ServiceCollection().AddMetrics().BuildServiceProvider();
        var metrics = new InferenceMetrics(meters.GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>());
        var runtime = new OnnxRuntimeOptions { IntraOpThreads = 1, LoneRunThreads = -1, LoneRunMinFirstRunMs = minFirstRunMs, OptimizedModelCacheFolder = _temp.Sub("ort-cache") };
        Assert.True(runtime.HasLoneSession, "automatic on a machine of two cores or more");
        var logs = new CapturingLoggerProvider(LogLevel.Information);
        using var loggers = LoggerFactory.Create(b => b.AddProvider(logs));
        await using var registry = new EnginePoolRegistry(
            Options.Create(new EnginePoolOptions { MaxEngines = 2, LoneSessionDelay = TimeSpan.Zero }), Options.Create(runtime), loggers, metrics);
        var pool = registry.GetPool(new ModelEntry("tiny-cnn", "1", _package));

        await pool.ScoreAsync(Tensor(1, 1, 1));

        if (tooFast)
        {
            await Eventually(() => logs.Entries.Any(e => e.Message.Contains("no lone-run session", StringComparison.Ordinal)));
            // The optimized model is still saved for later loads, in the background after the first prediction.
            await Eventually(() => Directory.Exists(runtime.OptimizedModelCacheFolder) && Directory.GetDirectories(runtime.OptimizedModelCacheFolder).Any(d => !Path.GetFileName(d).StartsWith('.')));
            Assert.False(pool.LoneSessionLoaded);
        }
        else
        {
            await Eventually(() => pool.LoneSessionLoaded);
            Assert.Equal(Means(7, 8, 9), await pool.ScoreAsync(Tensor(7, 8, 9)));
            Assert.Equal(1, pool.LoneRuns);
            // Logged just after the session is in place.
            await Eventually(() => logs.Entries.Any(e => e.Message.Contains("Loaded the lone-run session", StringComparison.Ordinal) && e.Message.Contains("from the optimized model saved on this machine", StringComparison.Ordinal)));
        }
    }

    [Fact]
    public void LoneRunThreads_AutomaticByDefault_AutomaticIsTheCoresWithTheCacheAndOffWithout()
    {
        Assert.Equal(-1, new OnnxRuntimeOptions().LoneRunThreads);
        Assert.Equal(0, new OnnxRuntimeOptions { LoneRunThreads = 0 }.EffectiveLoneRunThreads);
        var automatic = new OnnxRuntimeOptions { IntraOpThreads = 1, LoneRunThreads = -1 };

        Assert.Equal(Environment.ProcessorCount, automatic.EffectiveLoneRunThreads);
        Assert.Equal(TimeSpan.FromMilliseconds(20), automatic.LoneRunMinFirstRun);
        Assert.Equal(Environment.ProcessorCount, automatic.ForLoneRuns().IntraOpThreads);
        Assert.Equal(0, new OnnxRuntimeOptions { IntraOpThreads = 1, LoneRunThreads = -1, CacheOptimizedModels = false }.EffectiveLoneRunThreads);
        Assert.False(new OnnxRuntimeOptions { IntraOpThreads = 1, LoneRunThreads = -1, CacheOptimizedModels = false }.HasLoneSession);
        Assert.Equal(TimeSpan.Zero, new OnnxRuntimeOptions { IntraOpThreads = 1, LoneRunThreads = 2 }.LoneRunMinFirstRun);
    }

    [Theory]
    [InlineData(1, 0, false)]
    [InlineData(1, 2, true)]
    [InlineData(2, 2, false)]
    [InlineData(2, 1, false)]
    public void LoneSession_IsThereOnlyWhenALoneRunGetsMoreThreads(int intraOpThreads, int loneRunThreads, bool expected)
    {
        var options = new OnnxRuntimeOptions { IntraOpThreads = intraOpThreads, LoneRunThreads = loneRunThreads, AllowSpinning = true };

        Assert.Equal(expected, options.HasLoneSession);
        var lone = options.ForLoneRuns();
        Assert.Equal(loneRunThreads, lone.IntraOpThreads);
        Assert.True(lone.AllowSpinning);
        Assert.Equal(intraOpThreads, options.IntraOpThreads);
    }

    [Theory]
    [InlineData(false, false, false)]
    [InlineData(false, true, true)]
    [InlineData(true, false, true)]
    public void LoneSession_SpinsWhenEverySessionDoesOrWhenLoneRunsAreToldTo(bool allowSpinning, bool loneRunSpinning, bool expected)
    {
        var options = new OnnxRuntimeOptions { IntraOpThreads = 1, LoneRunThreads = 2, AllowSpinning = allowSpinning, LoneRunSpinning = loneRunSpinning };

        Assert.Equal(expected, options.ForLoneRuns().AllowSpinning);
        Assert.Equal(allowSpinning, options.AllowSpinning);
        using var shared = options.CreateSessionOptions();
        using var lone = options.ForLoneRuns().CreateSessionOptions();
        Assert.Equal(1, shared.IntraOpNumThreads);
        Assert.Equal(2, lone.IntraOpNumThreads);
    }

    [Fact]
    public void LoneSession_ByDefault_SpinsWhileTheSharedSessionsDoNot()
    {
        var options = new OnnxRuntimeOptions { IntraOpThreads = 1, LoneRunThreads = 2 };

        Assert.True(options.LoneRunSpinning);
        Assert.True(options.ForLoneRuns().AllowSpinning);
        Assert.False(options.AllowSpinning);
    }

    [Fact]
    public async Task GetPipelineAsync_APipelineWarmedWhileItLoaded_CountsItsWarmUpAsTheFirstPrediction()
    {
        var loaded = new Loaded();
        await using var pool = PoolLoading(p => p.WarmUp(), loaded);

        var pipeline = await pool.GetPipelineAsync();
        Assert.Same(loaded.Pipeline, pipeline);

        Assert.NotNull(pipeline.WarmUpTime);
        Assert.Equal(pipeline.WarmUpTime, pool.ColdStart.FirstPredictionTime);
        Assert.Equal(Means(1, 2, 3), await pool.ScoreAsync(Tensor(1, 2, 3)));
        Assert.Equal(1, pool.EngineCount);
    }

    [Fact]
    public async Task GetPipelineAsync_APipelineWhoseWarmUpIsStillToRun_ScoresBesideItAndKeepsTheFirstRunThatEnds()
    {
        var loaded = new Loaded();
        await using var pool = PoolLoading(p => p.AnnounceWarmUp(), loaded);

        var pipeline = await pool.GetPipelineAsync();
        Assert.Same(loaded.Pipeline, pipeline);

        // A request does not wait for the announced warm-up: its run is the version's first prediction.
        Assert.False(pipeline.WarmUpRun!.IsCompleted);
        Assert.Equal(Means(1, 2, 3), await pool.ScoreAsync(Tensor(1, 2, 3)));
        var first = pool.ColdStart.FirstPredictionTime;
        Assert.NotNull(first);

        // The warm-up that ends later changes nothing.
        pipeline.WarmUp();
        await pipeline.WarmUpRun;
        await Task.Delay(50);
        Assert.Equal(first, pool.ColdStart.FirstPredictionTime);
    }

    [Fact]
    public async Task GetPipelineAsync_AWarmUpThatEndsFirst_IsTheFirstPrediction()
    {
        var loaded = new Loaded();
        await using var pool = PoolLoading(p => p.AnnounceWarmUp(), loaded);
        var pipeline = await pool.GetPipelineAsync();
        Assert.Same(loaded.Pipeline, pipeline);
        Assert.Null(pool.ColdStart.FirstPredictionTime);

        pipeline.WarmUp();

        await Poll.UntilAsync(() => Task.FromResult(pool.ColdStart.FirstPredictionTime is not null), TimeSpan.FromSeconds(10), "the warm-up to be recorded");
        Assert.Equal(pipeline.WarmUpTime, pool.ColdStart.FirstPredictionTime);
    }

    [Fact]
    public async Task GetPipelineAsync_APipelineNotWarmed_HasNoFirstPredictionUntilOneRuns()
    {
        await using var pool = Pool(Load);

        var pipeline = await pool.GetPipelineAsync();

        Assert.Null(pipeline.WarmUpTime);
        Assert.Null(pool.ColdStart.FirstPredictionTime);
    }

    [Theory]
    [InlineData(0, true)]
    [InlineData(4L << 20, true)]
    [InlineData(-1, false)]
    [InlineData((1L << 30) + 1, false)]
    public void Options_CollectGen0AfterBytes_TakesZeroUpToAGibibyte(long bytes, bool valid)
    {
        var options = new EnginePoolOptions { CollectGen0AfterBytes = bytes };
        var errors = new List<System.ComponentModel.DataAnnotations.ValidationResult>();

        bool passed = System.ComponentModel.DataAnnotations.Validator.TryValidateObject(options, new(options), errors, validateAllProperties: true);

        Assert.Equal(valid, passed);
        Assert.Equal(valid ? 0 : 1, errors.Count);
    }
}

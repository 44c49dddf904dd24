using FunctionApp.Inference;
using FunctionApp.Tests.Support;
using Microsoft.Extensions.Logging.Abstractions;

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
}

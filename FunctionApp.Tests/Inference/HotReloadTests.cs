using FunctionApp.Api;
using FunctionApp.Classification;
using FunctionApp.Inference;
using FunctionApp.Models;
using FunctionApp.Tests.Support;
using Microsoft.Extensions.DependencyInjection;
using SkiaSharp;

namespace FunctionApp.Tests.Inference;

/// <summary>Publishing new versions under continuous load, and canary splits.</summary>
public sealed class HotReloadTests : IDisposable
{
    private readonly ModelRoot _models = new();

    public void Dispose() => _models.Dispose();

    private void Publish(string version, bool broken = false)
    {
        var dir = TinyCnn.WritePackage(Path.Combine(_models.Root, "tiny-cnn", version));
        File.WriteAllText(Path.Combine(dir, "model.json"), File.ReadAllText(Path.Combine(dir, "model.json")).Replace("\"version\": \"1\"", $"\"version\": \"{version}\"", StringComparison.Ordinal));
        if (broken)
            File.WriteAllText(Path.Combine(dir, "tiny.onnx"), "a truncated upload");
    }

    [Fact]
    public async Task Refresh_UnderLoad_SwitchesOnceWithoutFailuresAndRejectsABrokenVersion()
    {
        await using var services = TestServices.Create(_models.Settings());
        var catalog = services.GetRequiredService<ModelCatalog>();
        var classifier = services.GetRequiredService<ImageClassifier>();
        var refresher = services.GetRequiredService<ModelRefreshService>();
        var registry = services.GetRequiredService<EnginePoolRegistry>();
        var image = new NamedImage("red", Images.Solid(8, 8, SKColors.Red));
        Assert.Equal("2", (await classifier.ClassifyAsync(image)).Version);

        using var stop = new CancellationTokenSource();
        var failures = 0;
        var answered = new Milestones();
        var callers = Enumerable.Range(0, 6).Select(_ => Task.Run(async () =>
        {
            var seen = new List<string>();
            while (!stop.IsCancellationRequested)
            {
                try
                {
                    var result = await classifier.ClassifyAsync(image, catalog.Resolve(), topK: 1);
                    Assert.Equal("red", result.Images[0].Top![0].Label);
                    seen.Add(result.Version);
                    answered.Add();
                }
                catch (Exception)
                {
                    Interlocked.Increment(ref failures);
                }
            }

            return seen;
        })).ToList();

        // Each phase runs until the callers have answered a number of requests more, whatever the machine's speed.
        await answered.ReachedAsync(30);
        Publish("3");
        await refresher.RefreshAsync(CancellationToken.None);
        await answered.ReachedAsync(answered.Count + 30);
        Publish("4", broken: true);
        await refresher.RefreshAsync(CancellationToken.None);
        await answered.ReachedAsync(answered.Count + 30);
        await stop.CancelAsync();
        var sequences = await Task.WhenAll(callers);

        Assert.Equal(0, failures);
        Assert.Equal("3", catalog.Active("tiny-cnn")!.Version);
        foreach (var seen in sequences)
        {
            Assert.NotEmpty(seen);
            Assert.DoesNotContain("4", seen);
            Assert.Equal(seen.Order(VersionComparer.Instance), seen); // never back to 2 once on 3
            Assert.Equal("3", seen[^1]);
        }

        Assert.Contains(sequences, s => s.Contains("2"));
        var loaded = registry.Pools.Where(p => p.IsLoaded).Select(p => p.Version).ToList();
        Assert.Equal(["3"], loaded); // the old version drained and released its model; the broken one was dropped
    }

    [Fact]
    public async Task Refresh_PinnedOldVersion_StillServes()
    {
        await using var services = TestServices.Create(_models.Settings());
        var catalog = services.GetRequiredService<ModelCatalog>();
        var classifier = services.GetRequiredService<ImageClassifier>();
        var image = new NamedImage("red", Images.Solid(8, 8, SKColors.Red));
        await classifier.ClassifyAsync(image);
        Publish("3");

        await services.GetRequiredService<ModelRefreshService>().RefreshAsync(CancellationToken.None);

        Assert.Equal("3", (await classifier.ClassifyAsync(image)).Version);
        Assert.Equal("2", (await classifier.ClassifyAsync(image, catalog.Resolve("tiny-cnn", "2"))).Version);
    }

    [Fact]
    public void Canary_NinetyTen_HoldsWithinStatisticalTolerance()
    {
        var settings = _models.Settings();
        settings["Models:Canary:tiny-cnn:1"] = "90";
        settings["Models:Canary:tiny-cnn:2"] = "10";
        using var services = TestServices.Create(settings, s => s.AddSingleton(new Random(20261127)));
        var catalog = services.GetRequiredService<ModelCatalog>();

        const int draws = 4000;
        int canary = Enumerable.Range(0, draws).Count(_ => catalog.Resolve().Version == "2");

        // Binomial(4000, 0.1): mean 400, standard deviation 19; allow five standard deviations.
        Assert.InRange(canary, 400 - 95, 400 + 95);
        Assert.Equal("2", catalog.Resolve("tiny-cnn", "2").Version);
    }

    [Fact]
    public async Task Canary_PerVersionTrafficIsCounted()
    {
        var settings = _models.Settings();
        settings["Models:Canary:tiny-cnn:1"] = "50";
        settings["Models:Canary:tiny-cnn:2"] = "50";
        await using var services = TestServices.Create(settings, s => s.AddSingleton(new Random(7)));
        var classifier = services.GetRequiredService<ImageClassifier>();
        var image = new NamedImage("red", Images.Solid(8, 8, SKColors.Red));

        for (int i = 0; i < 60; i++)
            await classifier.ClassifyAsync(image);

        var traffic = services.GetRequiredService<EnginePoolRegistry>().Pools.ToDictionary(p => p.Version, p => p.Traffic.Snapshot().Predictions);
        Assert.Equal(60, traffic.Values.Sum());
        Assert.True(traffic["1"] > 10 && traffic["2"] > 10, $"split 1={traffic["1"]}, 2={traffic["2"]}");
    }

    [Fact]
    public async Task Start_NewestVersionBroken_UnpinnedRequestsAndReadinessUseTheNewestThatLoads()
    {
        Publish("3", broken: true);
        await using var services = TestServices.Create(_models.Settings());
        var classifier = services.GetRequiredService<ImageClassifier>();
        var image = new NamedImage("red", Images.Solid(8, 8, SKColors.Red));

        var unpinned = await classifier.ClassifyAsync(image);
        var ready = await FunctionApp.Classification.ModelReadinessCheck.ReadAsync(services.GetRequiredService<Microsoft.Extensions.Diagnostics.HealthChecks.HealthCheckService>(), CancellationToken.None);
        var listing = services.GetRequiredService<FunctionApp.Api.ModelDescriptions>().Get("tiny-cnn");
        var pinned = await Assert.ThrowsAsync<ModelLoadException>(() => classifier.ClassifyAsync(image, "tiny-cnn", "3"));

        Assert.Equal(("2", "red"), (unpinned.Version, unpinned.Images[0].Top![0].Label));
        Assert.True(ready.Ready, ready.Error);
        Assert.Equal("2", ready.Version);
        Assert.Equal("3", pinned.Version);
        var rejected = Assert.Single(listing.Versions, v => v.Rejected is not null);
        Assert.Equal("3", rejected.Version);
        Assert.Null(listing.Versions.Single(v => v.Version == "2").Rejected);
    }

    [Fact]
    public async Task Retire_WaitsForALeaseAndTheLeasedPoolKeepsServing()
    {
        await using var services = TestServices.Create(_models.Settings());
        var catalog = services.GetRequiredService<ModelCatalog>();
        var registry = services.GetRequiredService<EnginePoolRegistry>();
        var classifier = services.GetRequiredService<ImageClassifier>();
        var image = new NamedImage("red", Images.Solid(8, 8, SKColors.Red));
        Assert.Equal("2", (await classifier.ClassifyAsync(image)).Version);
        var lease = registry.Lease(catalog.Resolve());
        var tensor = new float[(await lease.Pool.GetPipelineAsync()).Package.Manifest.Preprocessing.TensorLength];

        Publish("3");
        var refresh = services.GetRequiredService<ModelRefreshService>().RefreshAsync(CancellationToken.None);
        await Poll.UntilAsync(() => Task.FromResult(catalog.Active("tiny-cnn")?.Version == "3"), TimeSpan.FromSeconds(30), "version 3 to take over");

        // Version 2 is out of service, but the lease holds it: the retirement waits, and the pool still answers.
        Assert.False(refresh.IsCompleted);
        Assert.Equal("3", (await classifier.ClassifyAsync(image)).Version);
        Assert.Equal("2", lease.Pool.Version);
        Assert.NotEmpty(await lease.Pool.ScoreAsync(tensor));
        Assert.True(lease.Pool.IsLoaded);

        var old = lease.Pool;
        lease.Dispose();
        await refresh.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.False(old.IsLoaded);
    }

    [Fact]
    public async Task Readiness_ProbeIsAColdStartFactButNotTraffic()
    {
        await using var services = TestServices.Create(_models.Settings());
        var health = services.GetRequiredService<Microsoft.Extensions.Diagnostics.HealthChecks.HealthCheckService>();

        var ready = await ModelReadinessCheck.ReadAsync(health, CancellationToken.None);
        var described = services.GetRequiredService<ModelDescriptions>().Get("tiny-cnn").Versions.Single(v => v.Version == "2");

        Assert.True(ready.Ready, ready.Error);
        Assert.NotNull(described.ColdStart.FirstPredictionMs);
        Assert.Equal(0, described.Traffic.Predictions);
    }

    /// <summary>Counts answers and lets a test wait until a count is reached, instead of sleeping.</summary>
    private sealed class Milestones
    {
        private readonly Lock _lock = new();
        private readonly List<(int Target, TaskCompletionSource Reached)> _waiting = [];
        private int _count;

        public int Count => Volatile.Read(ref _count);

        public void Add()
        {
            int count = Interlocked.Increment(ref _count);
            lock (_lock)
            {
                foreach (var waiter in _waiting.Where(w => w.Target <= count).ToList())
                {
                    waiter.Reached.TrySetResult();
                    _waiting.Remove(waiter);
                }
            }
        }

        public Task ReachedAsync(int target)
        {
            lock (_lock)
            {
                if (Count >= target)
                    return Task.CompletedTask;
                var reached = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                _waiting.Add((target, reached));
                return reached.Task.WaitAsync(TimeSpan.FromMinutes(2));
            }
        }
    }
}

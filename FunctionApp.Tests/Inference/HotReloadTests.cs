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

        // Six busy callers on two cores: give the thread pool room so the test's own timing is not starved.
        ThreadPool.GetMinThreads(out var workers, out var io);
        ThreadPool.SetMinThreads(Math.Max(workers, 16), Math.Max(io, 16));
        using var stop = new CancellationTokenSource();
        var failures = 0;
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
                }
                catch (Exception)
                {
                    Interlocked.Increment(ref failures);
                }
            }

            return seen;
        })).ToList();

        await Task.Delay(300);
        Publish("3");
        await refresher.RefreshAsync(CancellationToken.None);
        await Task.Delay(300);
        Publish("4", broken: true);
        await refresher.RefreshAsync(CancellationToken.None);
        await Task.Delay(300);
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
        using var services = TestServices.Create(settings);
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
        await using var services = TestServices.Create(settings);
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
}

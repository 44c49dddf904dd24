using FunctionApp.Classification;
using FunctionApp.Inference;
using FunctionApp.Models;
using FunctionApp.Tests.Support;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace FunctionApp.Tests.Inference;

/// <summary>Preloads are process-wide, so these tests run alone: a host's warm-up elsewhere discards unclaimed preloads.</summary>
[CollectionDefinition(nameof(ProcessWidePreloads), DisableParallelization = true)]
public sealed class ProcessWidePreloads;

[Collection(nameof(ProcessWidePreloads))]
public sealed class PipelinePreloadTests : IAsyncLifetime, IDisposable
{
    private readonly TempDirectory _temp = new();

    public Task InitializeAsync() => Task.CompletedTask;

    // xunit disposes asynchronously first: the preloads let go before their folders go.
    public Task DisposeAsync() => PipelinePreload.DiscardUnclaimed();

    public void Dispose() => _temp.Dispose();

    private static OnnxRuntimeOptions Runtime(int threads = 1) => new() { IntraOpThreads = threads };

    /// <summary>The tiny CNN as the default model of <paramref name="root"/>, warmed up as <paramref name="warmUp"/> says.</summary>
    private static Dictionary<string, string?> Settings(ModelRoot root, string warmUp) => new()
    {
        ["Models:Root"] = root.Root,
        ["Models:Default"] = "tiny-cnn",
        ["Models:WarmUp"] = warmUp,
    };

    [Fact]
    public async Task TryTake_SamePackageAndSettings_GetsThePipelineOnceWithItsWarmUpRun()
    {
        var directory = TinyCnn.WritePackage(_temp.Sub("tiny"));
        PipelinePreload.Start(ModelPackage.Open(directory), Runtime());

        using var pipeline = PipelinePreload.TryTake(directory, Runtime());

        Assert.NotNull(pipeline);
        Assert.Equal(directory, pipeline.Package.Directory);
        // Handed on once built, with its warm-up run announced: a request can run beside it.
        Assert.NotNull(pipeline.WarmUpRun);
        var engine = pipeline.CreateEngine();
        var output = new ScoresOutput();
        engine.Predict(new TensorInput { Pixels = new float[3 * TinyCnn.Size * TinyCnn.Size] }, ref output);
        Assert.Equal(3, output.Scores.Length);
        var warmUp = await pipeline.WarmUpRun.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(pipeline.WarmUpTime, warmUp);
        Assert.Null(PipelinePreload.TryTake(directory, Runtime()));
    }

    [Fact]
    public async Task TryTake_AfterDiscard_GetsNothingAndThePipelineIsReleasedOnceItsJobEnds()
    {
        var directory = TinyCnn.WritePackage(_temp.Sub("tiny"));
        PipelinePreload.Start(ModelPackage.Open(directory), Runtime());

        // Discarded while it may still be loading or warming up: released once the job is over, without a fault.
        var released = PipelinePreload.DiscardUnclaimed();

        Assert.Null(PipelinePreload.TryTake(directory, Runtime()));
        await released.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.True(released.IsCompletedSuccessfully);
    }

    [Fact]
    public void TryTake_OtherSettingsOrAChangedPackage_GetsNothing()
    {
        var directory = TinyCnn.WritePackage(_temp.Sub("tiny"));
        PipelinePreload.Start(ModelPackage.Open(directory), Runtime());

        Assert.Null(PipelinePreload.TryTake(directory, Runtime(threads: 2)));
        File.SetLastWriteTimeUtc(Path.Combine(directory, ModelManifest.FileName), DateTime.UtcNow.AddMinutes(1));
        Assert.Null(PipelinePreload.TryTake(directory, Runtime()));
    }

    [Fact]
    public void TryTake_PreloadOfABrokenModel_GetsNothingSoTheCallerLoadsAndReports()
    {
        var directory = TinyCnn.WritePackage(_temp.Sub("tiny"));
        var package = ModelPackage.Open(directory);
        File.WriteAllText(Path.Combine(directory, "tiny.onnx"), "not a model");
        File.SetLastWriteTimeUtc(Path.Combine(directory, ModelManifest.FileName), DateTime.UtcNow.AddMinutes(-1));
        PipelinePreload.Start(package, Runtime());

        Assert.Null(PipelinePreload.TryTake(directory, Runtime()));
        Assert.Throws<ModelPackageException>(() => InferencePipeline.Create(package, Runtime()));
    }

    [Fact]
    public async Task ModelPreload_EagerWarmUpOfTheOnlyModel_PreloadsItsNewestVersionWithTheHostsThreadRule()
    {
        using var root = new ModelRoot();
        var settings = Settings(root, "Eager");
        settings["EnginePool:MaxEngines"] = "1";

        await ModelPreload.Start(new ConfigurationBuilder().AddInMemoryCollection(settings).Build());

        // One engine at a time: the host's rule gives it every core.
        var runtime = Runtime(threads: Environment.ProcessorCount);
        Assert.Null(PipelinePreload.TryTake(Path.Combine(root.Root, "tiny-cnn", "1"), runtime));
        using var pipeline = PipelinePreload.TryTake(Path.Combine(root.Root, "tiny-cnn", "2"), runtime);
        Assert.NotNull(pipeline);
        Assert.Equal("2", pipeline.Package.Manifest.Version);
    }

    [Fact]
    public async Task Readiness_OfAPreloadedModel_IsItsWarmUpRunNotAnotherPrediction()
    {
        using var root = new ModelRoot();
        var settings = Settings(root, "Eager");
        await using var services = TestServices.Create(settings);
        var health = services.GetRequiredService<HealthCheckService>();
        await ModelPreload.Start(new ConfigurationBuilder().AddInMemoryCollection(settings).Build());

        // Asked while the preload is still building the pipeline: the check gets it as soon as it is built, while its
        // warm-up run has yet to start or end.
        var ready = await ModelReadinessCheck.ReadAsync(health, CancellationToken.None);

        Assert.True(ready.Ready, ready.Error);
        var pool = Assert.Single(services.GetRequiredService<EnginePoolRegistry>().Pools);
        var pipeline = await pool.GetPipelineAsync();
        // The preload's pipeline, whose warm-up the check waited for: the pool ran nothing of its own.
        Assert.NotNull(pipeline.WarmUpTime);
        Assert.Equal(0, pool.EngineCount);
        await Poll.UntilAsync(() => Task.FromResult(pool.ColdStart.FirstPredictionTime is not null), TimeSpan.FromSeconds(10), "the warm-up to be recorded");
        Assert.Equal(pipeline.WarmUpTime, pool.ColdStart.FirstPredictionTime);
    }

    [Theory]
    [InlineData("Lazy", null)]
    [InlineData("Eager", "1")]
    public async Task ModelPreload_LazyWarmUpOrACanarySplit_PreloadsNothing(string warmUp, string? canaryWeight)
    {
        using var root = new ModelRoot();
        var settings = Settings(root, warmUp);
        settings["EnginePool:MaxEngines"] = "1";
        if (canaryWeight is not null)
            settings["Models:Canary:tiny-cnn:1"] = canaryWeight;

        await ModelPreload.Start(new ConfigurationBuilder().AddInMemoryCollection(settings).Build());

        Assert.Null(PipelinePreload.TryTake(Path.Combine(root.Root, "tiny-cnn", "2"), Runtime(threads: Environment.ProcessorCount)));
    }
}

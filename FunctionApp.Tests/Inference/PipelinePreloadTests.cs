using FunctionApp.Inference;
using FunctionApp.Models;
using FunctionApp.Tests.Support;
using Microsoft.Extensions.Configuration;

namespace FunctionApp.Tests.Inference;

/// <summary>Preloads are process-wide, so these tests run alone: a host's warm-up elsewhere discards unclaimed preloads.</summary>
[CollectionDefinition(nameof(ProcessWidePreloads), DisableParallelization = true)]
public sealed class ProcessWidePreloads;

[Collection(nameof(ProcessWidePreloads))]
public sealed class PipelinePreloadTests : IDisposable
{
    private readonly TempDirectory _temp = new();

    public void Dispose()
    {
        PipelinePreload.DiscardUnclaimed();
        _temp.Dispose();
    }

    private static OnnxRuntimeOptions Runtime(int threads = 1) => new() { IntraOpThreads = threads };

    [Fact]
    public void TryTake_SamePackageAndSettings_GetsTheWarmPipelineOnce()
    {
        var directory = TinyCnn.WritePackage(_temp.Sub("tiny"));
        PipelinePreload.Start(ModelPackage.Open(directory), Runtime());

        using var pipeline = PipelinePreload.TryTake(directory, Runtime());

        Assert.NotNull(pipeline);
        Assert.Equal(directory, pipeline.Package.Directory);
        var engine = pipeline.CreateEngine();
        var output = new ScoresOutput();
        engine.Predict(new TensorInput { Pixels = new float[3 * TinyCnn.Size * TinyCnn.Size] }, ref output);
        Assert.Equal(3, output.Scores.Length);
        Assert.Null(PipelinePreload.TryTake(directory, Runtime()));
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
    public void TryTake_AfterDiscard_GetsNothing()
    {
        var directory = TinyCnn.WritePackage(_temp.Sub("tiny"));
        PipelinePreload.Start(ModelPackage.Open(directory), Runtime());

        PipelinePreload.DiscardUnclaimed();

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
        var settings = new Dictionary<string, string?>
        {
            ["Models:Root"] = root.Root,
            ["Models:Default"] = "tiny-cnn",
            ["Models:WarmUp"] = "Eager",
            ["EnginePool:MaxEngines"] = "1",
        };

        await ModelPreload.Start(new ConfigurationBuilder().AddInMemoryCollection(settings).Build());

        // One engine at a time: the host's rule gives it every core.
        var runtime = Runtime(threads: Environment.ProcessorCount);
        Assert.Null(PipelinePreload.TryTake(Path.Combine(root.Root, "tiny-cnn", "1"), runtime));
        using var pipeline = PipelinePreload.TryTake(Path.Combine(root.Root, "tiny-cnn", "2"), runtime);
        Assert.NotNull(pipeline);
        Assert.Equal("2", pipeline.Package.Manifest.Version);
    }

    [Theory]
    [InlineData("Lazy", null)]
    [InlineData("Eager", "1")]
    public async Task ModelPreload_LazyWarmUpOrACanarySplit_PreloadsNothing(string warmUp, string? canaryWeight)
    {
        using var root = new ModelRoot();
        var settings = new Dictionary<string, string?>
        {
            ["Models:Root"] = root.Root,
            ["Models:Default"] = "tiny-cnn",
            ["Models:WarmUp"] = warmUp,
            ["EnginePool:MaxEngines"] = "1",
        };
        if (canaryWeight is not null)
            settings["Models:Canary:tiny-cnn:1"] = canaryWeight;

        await ModelPreload.Start(new ConfigurationBuilder().AddInMemoryCollection(settings).Build());

        Assert.Null(PipelinePreload.TryTake(Path.Combine(root.Root, "tiny-cnn", "2"), Runtime(threads: Environment.ProcessorCount)));
    }
}

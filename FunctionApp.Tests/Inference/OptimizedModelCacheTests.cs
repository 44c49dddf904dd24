using FunctionApp.Inference;
using FunctionApp.Tests.Support;
using Microsoft.ML.OnnxRuntime;

namespace FunctionApp.Tests.Inference;

public sealed class OptimizedModelCacheTests : IDisposable
{
    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    private OnnxRuntimeOptions Runtime(string? cache = null, bool on = true) =>
        new() { IntraOpThreads = 1, CacheOptimizedModels = on, OptimizedModelCacheFolder = cache ?? _temp.Sub("cache"), PreparedModelsFolder = _temp.Sub("no-prepared-models") };

    private static string[] Entries(string cache) =>
        Directory.Exists(cache) ? [.. Directory.GetDirectories(cache).Select(Path.GetFileName).Where(n => !n!.StartsWith('.'))!] : [];

    [Fact]
    public void SaveOptimized_ThenCreate_LoadsTheSavedOptimizedModelWithItsWeightsOutsideAndScoresTheSame()
    {
        var runtime = Runtime();

        float[] first;
        using (var cold = InferencePipeline.Create(ModelPackage.Open(BundledPackage.Directory), runtime))
        {
            Assert.False(cold.LoadedOptimized);
            Assert.True(cold.HasUnsavedOptimizedModels);
            Assert.Empty(Entries(runtime.OptimizedModelCacheFolder!));
            first = PipelineScores.Of(cold, 1);
            Assert.Equal(1, cold.SaveOptimized());
            Assert.False(cold.HasUnsavedOptimizedModels);
            Assert.Equal(first, PipelineScores.Of(cold, 1));
        }

        var entry = Assert.Single(Entries(runtime.OptimizedModelCacheFolder!));
        var folder = Path.Combine(runtime.OptimizedModelCacheFolder!, entry);
        Assert.True(new FileInfo(Path.Combine(folder, OptimizedModelCache.GraphFile)).Length < 1 << 20, "the graph is saved without its weights");
        Assert.True(new FileInfo(Path.Combine(folder, OptimizedModelCache.WeightsFile)).Length > 40 << 20, "the weights are saved beside it");
        Assert.Empty(Directory.GetDirectories(runtime.OptimizedModelCacheFolder!, ".staging-*"));

        using var warm = InferencePipeline.Create(ModelPackage.Open(BundledPackage.Directory), runtime);
        Assert.True(warm.LoadedOptimized);
        Assert.False(warm.HasUnsavedOptimizedModels);
        Assert.Equal(0, warm.SaveOptimized());
        var second = PipelineScores.Of(warm, 1);
        PipelineScores.AssertClose(first, second, 4);
        Assert.NotEqual(PipelineScores.Of(warm, 2), second);
    }

    [Theory]
    [InlineData("graph")]
    [InlineData("weights")]
    public void Create_DamagedEntry_LoadsTheModelItselfAndWritesTheEntryAgain(string damaged)
    {
        var runtime = Runtime();
        float[] expected;
        using (var first = InferencePipeline.Create(ModelPackage.Open(BundledPackage.Directory), runtime))
        {
            expected = PipelineScores.Of(first, 3);
            Assert.Equal(1, first.SaveOptimized());
        }

        var folder = Path.Combine(runtime.OptimizedModelCacheFolder!, Assert.Single(Entries(runtime.OptimizedModelCacheFolder!)));
        if (damaged == "graph")
            File.WriteAllBytes(Path.Combine(folder, OptimizedModelCache.GraphFile), [0x3A, 0xFF, 0xFF, 0xFF, 0x0F, 0x01]);
        else
            using (var weights = new FileStream(Path.Combine(folder, OptimizedModelCache.WeightsFile), FileMode.Open))
                weights.SetLength(1000);

        using (var recovered = InferencePipeline.Create(ModelPackage.Open(BundledPackage.Directory), runtime))
        {
            Assert.False(recovered.LoadedOptimized);
            Assert.Equal(expected, PipelineScores.Of(recovered, 3));
            Assert.Empty(Entries(runtime.OptimizedModelCacheFolder!));
            Assert.Equal(1, recovered.SaveOptimized());
        }

        using var again = InferencePipeline.Create(ModelPackage.Open(BundledPackage.Directory), runtime);
        Assert.True(again.LoadedOptimized, "the entry was written again");
        var scores = PipelineScores.Of(again, 3);
        for (int i = 0; i < expected.Length; i++)
            Assert.Equal(expected[i], scores[i], 4);
    }

    [Fact]
    public void Create_CacheFolderCannotBeWritten_LoadsTheModelAsUsual()
    {
        var blocked = _temp.Sub("blocked");
        File.WriteAllText(blocked, "a file where the folder would go");

        using var pipeline = InferencePipeline.Create(ModelPackage.Open(BundledPackage.Directory), Runtime(blocked));

        Assert.False(pipeline.LoadedOptimized);
        Assert.Equal(10, PipelineScores.Of(pipeline, 4).Length);
        Assert.Equal(0, pipeline.SaveOptimized());
        Assert.Equal(10, PipelineScores.Of(pipeline, 4).Length);
    }

    [Fact]
    public void Create_CacheOff_WritesNothing()
    {
        var runtime = Runtime(on: false);

        using var pipeline = InferencePipeline.Create(ModelPackage.Open(BundledPackage.Directory), runtime);
        Assert.False(pipeline.HasUnsavedOptimizedModels);
        Assert.Equal(0, pipeline.SaveOptimized());
        using var again = InferencePipeline.Create(ModelPackage.Open(BundledPackage.Directory), runtime);

        Assert.False(again.LoadedOptimized);
        Assert.False(Directory.Exists(runtime.OptimizedModelCacheFolder));
    }

    [Fact]
    public void Key_ChangesWithTheContentTheLevelAndTheWriteTimeButNotThePath()
    {
        var a = _temp.Sub("a.onnx");
        Directory.CreateDirectory(_temp.Sub("elsewhere"));
        var b = Path.Combine(_temp.Sub("elsewhere"), "b.onnx");
        var c = _temp.Sub("c.onnx");
        var time = new DateTime(2026, 1, 1, 0, 0, 0, DateTimeKind.Utc);
        void Write(string path, byte[] bytes)
        {
            File.WriteAllBytes(path, bytes);
            File.SetLastWriteTimeUtc(path, time);
        }

        Write(a, new byte[100]);
        Write(b, new byte[100]);
        var key = OptimizedModelCache.Key(a, GraphOptimizationLevel.ORT_ENABLE_ALL);

        Assert.Equal(key, OptimizedModelCache.Key(a, GraphOptimizationLevel.ORT_ENABLE_ALL));
        Assert.Equal(key, OptimizedModelCache.Key(b, GraphOptimizationLevel.ORT_ENABLE_ALL));
        Assert.NotEqual(key, OptimizedModelCache.Key(a, GraphOptimizationLevel.ORT_ENABLE_EXTENDED));
        // Without exact int8 products, an int8 model's saved graph differs on CPUs without VNNI.
        Assert.NotEqual(key, OptimizedModelCache.Key(a, GraphOptimizationLevel.ORT_ENABLE_ALL, exactInt8Products: false));
        Assert.Equal(key, OptimizedModelCache.TryKey(a, new OnnxRuntimeOptions()));
        Write(c, [.. new byte[99], 1]);
        Assert.NotEqual(key, OptimizedModelCache.Key(c, GraphOptimizationLevel.ORT_ENABLE_ALL));
        Write(c, new byte[101]);
        Assert.NotEqual(key, OptimizedModelCache.Key(c, GraphOptimizationLevel.ORT_ENABLE_ALL));
        File.SetLastWriteTimeUtc(a, time.AddDays(1));
        Assert.NotEqual(key, OptimizedModelCache.Key(a, GraphOptimizationLevel.ORT_ENABLE_ALL));
    }

    [Fact]
    public void Create_SameModelThroughAnotherPath_FindsTheEntry()
    {
        var runtime = Runtime();
        using (var first = InferencePipeline.Create(ModelPackage.Open(BundledPackage.Directory), runtime))
            Assert.Equal(1, first.SaveOptimized());

        // The package reached through a symbolic link, as a models root made of links in a temporary folder is.
        var link = _temp.Sub("linked-package");
        Directory.CreateSymbolicLink(link, BundledPackage.Directory);
        using var again = InferencePipeline.Create(ModelPackage.Open(link), runtime);

        Assert.True(again.LoadedOptimized);
    }
}

using FunctionApp.Inference;
using FunctionApp.Tests.Support;

namespace FunctionApp.Tests.Inference;

/// <summary>
/// Sessions loaded from a model saved with its weights beside it read them from one mapping of that file for the whole
/// process, however many sessions there are; ONNX Runtime left to itself maps every weight again for each session.
/// </summary>
public sealed class SharedWeightsTests : IDisposable
{
    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    private OnnxRuntimeOptions Runtime(bool share) =>
        new() { IntraOpThreads = 1, ShareWeights = share, OptimizedModelCacheFolder = _temp.Sub("cache"), PreparedModelsFolder = _temp.Sub("no-prepared-models") };

    [Fact]
    public void TwoSessionsFromTheCache_MapTheWeightsOnce_ScoreAsTheModelDoes_AndUnmapThemWhenBothAreGone()
    {
        float[] expected;
        using (var cold = InferencePipeline.Create(ModelPackage.Open(BundledPackage.Directory), Runtime(share: true)))
        {
            expected = PipelineScores.Of(cold);
            Assert.Equal(1, cold.SaveOptimized());
        }

        var cache = _temp.Sub("cache");
        string weights = Path.Combine(Directory.GetDirectories(cache).Single(d => !Path.GetFileName(d).StartsWith('.')), OptimizedModelCache.WeightsFile);
        Assert.Equal(0, Mappings(weights));

        var first = InferencePipeline.Create(ModelPackage.Open(BundledPackage.Directory), Runtime(share: true));
        var second = InferencePipeline.Create(ModelPackage.Open(BundledPackage.Directory), Runtime(share: true));
        Assert.True(first.LoadedOptimized && second.LoadedOptimized, "both load from the cache");
        Assert.Equal(1, Mappings(weights));
        PipelineScores.AssertClose(expected, PipelineScores.Of(first), 4);
        PipelineScores.AssertClose(expected, PipelineScores.Of(second), 4);

        // ONNX Runtime's own way, for comparison: a mapping per weight, for this session alone.
        using (var own = InferencePipeline.Create(ModelPackage.Open(BundledPackage.Directory), Runtime(share: false)))
        {
            PipelineScores.AssertClose(expected, PipelineScores.Of(own), 4);
            Assert.True(Mappings(weights) > 10, $"{Mappings(weights)} mappings with ONNX Runtime mapping the weights itself");
        }

        first.Dispose();
        Assert.Equal(1, Mappings(weights));
        PipelineScores.AssertClose(expected, PipelineScores.Of(second), 4);
        second.Dispose();
        Assert.Equal(0, Mappings(weights));
    }

    private static int Mappings(string path) =>
        File.ReadLines("/proc/self/maps").Count(line => line.EndsWith(" " + path, StringComparison.Ordinal));

}

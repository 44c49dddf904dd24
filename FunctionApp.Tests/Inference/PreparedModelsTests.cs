using FunctionApp.Cli;
using FunctionApp.Inference;
using FunctionApp.Tests.Support;

namespace FunctionApp.Tests.Inference;

public sealed class PreparedModelsTests : IDisposable
{
    private static readonly string BundledModel = Path.Combine(BundledPackage.Directory, "resnet18.onnx");

    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    private OnnxRuntimeOptions Runtime(string prepared, bool cache = false) => new()
    {
        IntraOpThreads = 1,
        PreparedModelsFolder = prepared,
        CacheOptimizedModels = cache,
        OptimizedModelCacheFolder = _temp.Sub("cache"),
    };

    [Fact]
    public void Prepare_BundledModel_WritesTheGraphWithItsWeightsOutsideAndLoadsFromItWithTheSameScores()
    {
        var folder = _temp.Sub("prepared");
        var prepared = new PreparedModels(folder).Prepare(BundledModel);

        Assert.True(prepared.Written);
        Assert.True(prepared.GraphBytes < 1 << 20, "the graph is written without its weights");
        Assert.True(prepared.WeightsBytes > 40 << 20, "the weights are written beside it");
        Assert.Equal(Path.Combine(folder, prepared.Key, PreparedModels.GraphFile), new PreparedModels(folder).Find(BundledModel));
        Assert.Empty(Directory.GetDirectories(folder, ".staging-*"));
        Assert.False(new PreparedModels(folder).Prepare(BundledModel).Written, "an entry already there is kept");

        float[] ordinary;
        using (var plain = InferencePipeline.Create(ModelPackage.Open(BundledPackage.Directory), Runtime(_temp.Sub("none"))))
        {
            Assert.Equal(ModelSource.File, plain.LoadedFrom);
            ordinary = PipelineScores.Of(plain);
        }

        using var fast = InferencePipeline.Create(ModelPackage.Open(BundledPackage.Directory), Runtime(folder));
        Assert.Equal(ModelSource.Prepared, fast.LoadedFrom);
        PipelineScores.AssertClose(ordinary, PipelineScores.Of(fast), 5);
    }

    [Fact]
    public void Create_PreparedAndCacheOn_SavesNothingToTheCacheButAnEntryThereWins()
    {
        var folder = _temp.Sub("prepared");
        new PreparedModels(folder).Prepare(BundledModel);

        using (var pipeline = InferencePipeline.Create(ModelPackage.Open(BundledPackage.Directory), Runtime(folder, cache: true)))
        {
            // The prepared form is as fast to load on the next start; a second optimized session would double the peak.
            Assert.Equal(ModelSource.Prepared, pipeline.LoadedFrom);
            Assert.False(pipeline.HasUnsavedOptimizedModels);
        }

        float[] expected;
        using (var plain = InferencePipeline.Create(ModelPackage.Open(BundledPackage.Directory), Runtime(_temp.Sub("none"), cache: true)))
        {
            Assert.Equal(ModelSource.File, plain.LoadedFrom);
            expected = PipelineScores.Of(plain);
            Assert.Equal(1, plain.SaveOptimized());
        }

        using var cached = InferencePipeline.Create(ModelPackage.Open(BundledPackage.Directory), Runtime(folder, cache: true));
        Assert.Equal(ModelSource.MachineCache, cached.LoadedFrom);
        PipelineScores.AssertClose(expected, PipelineScores.Of(cached), 5);
    }

    private static float[] ScoreAny(InferencePipeline pipeline, float seed)
    {
        var engine = pipeline.CreateEngine();
        var pixels = new float[pipeline.Package.Manifest.Preprocessing.TensorLength];
        for (int i = 0; i < pixels.Length; i++)
            pixels[i] = (((i * 37) + (int)(seed * 11)) % 200) / 100f - 1f;
        var output = new ScoresOutput();
        engine.Predict(new TensorInput { Pixels = pixels }, ref output);
        return output.Scores;
    }

    [Fact]
    public async Task ModelsPrepare_SlicedPackage_PreparesEverySliceAndLoadsThemAll()
    {
        var original = SmallCnn.WritePackage(_temp.Sub("small"));
        var root = _temp.Sub("models");
        var sliced = FunctionApp.Slicing.PackageSlicer.Slice(ModelPackage.Open(original), slices: 2, maxSliceBytes: null, Path.Combine(root, "small-cnn", "1"));
        var into = _temp.Sub("prepared");

        var (exit, output, error) = await Run("models", "prepare", root, "--into", into);

        Assert.True(exit == 0, error);
        Assert.Equal(2, sliced.Slices.Count);
        foreach (var slice in sliced.Slices)
            Assert.Contains($"small-cnn 1: {slice.File} prepared in", output, StringComparison.Ordinal);
        using var plain = InferencePipeline.Create(ModelPackage.Open(sliced.Directory), Runtime(_temp.Sub("none")));
        using var fast = InferencePipeline.Create(ModelPackage.Open(sliced.Directory), Runtime(into));
        Assert.Equal(ModelSource.File, plain.LoadedFrom);
        Assert.Equal(ModelSource.Prepared, fast.LoadedFrom);
        PipelineScores.AssertClose(ScoreAny(plain, 1), ScoreAny(fast, 1), 5);
    }

    [Fact]
    public async Task ModelsPrepare_Int8Package_KeepsTheQuantizedWeightsAndScoresLikeTheFile()
    {
        var root = _temp.Sub("models");
        SmallCnn.WritePackage(Path.Combine(root, "small-cnn", "1"));
        var calibration = Directory.CreateDirectory(_temp.Sub("calibration")).FullName;
        var random = new Random(5);
        for (int i = 0; i < 8; i++)
            File.WriteAllBytes(Path.Combine(calibration, $"c{i}.png"), Images.Solid(20, 20, new SkiaSharp.SKColor((byte)random.Next(256), (byte)random.Next(256), (byte)random.Next(256))));
        var quantize = await Run("models", "quantize", Path.Combine(root, "small-cnn", "1"), "--images", calibration);
        Assert.True(quantize.Exit == 0, quantize.Error + quantize.Output);
        var int8 = Path.Combine(root, "small-cnn", "2");
        var into = _temp.Sub("prepared");

        var (exit, _, error) = await Run("models", "prepare", int8, "--into", into);

        Assert.True(exit == 0, error);
        var package = ModelPackage.Open(int8);
        var graph = new PreparedModels(into).Find(package.OnnxPath)!;
        var nodes = Onnx.ModelProto.Parser.ParseFrom(File.ReadAllBytes(graph)).Graph.Node.Select(n => n.OpType).ToList();
        // The basic optimizations fold constants but leave DequantizeLinear to ONNX Runtime's int8 kernels.
        Assert.Contains("DequantizeLinear", nodes);
        Assert.Contains("QuantizeLinear", nodes);
        using var plain = InferencePipeline.Create(package, Runtime(_temp.Sub("none")));
        using var fast = InferencePipeline.Create(package, Runtime(into));
        Assert.Equal(ModelSource.Prepared, fast.LoadedFrom);
        PipelineScores.AssertClose(ScoreAny(plain, 2), ScoreAny(fast, 2), 5);
    }

    [Fact]
    public void Create_DamagedPreparedEntry_LoadsTheModelFileAndLeavesTheFolderAlone()
    {
        var folder = _temp.Sub("prepared");
        var entry = new PreparedModels(folder).Prepare(BundledModel);
        File.WriteAllBytes(Path.Combine(folder, entry.Key, PreparedModels.GraphFile), [0x3A, 0xFF, 0xFF, 0xFF, 0x0F, 0x01]);

        using var pipeline = InferencePipeline.Create(ModelPackage.Open(BundledPackage.Directory), Runtime(folder));

        Assert.Equal(ModelSource.File, pipeline.LoadedFrom);
        Assert.Equal(10, PipelineScores.Of(pipeline).Length);
        Assert.True(File.Exists(Path.Combine(folder, entry.Key, PreparedModels.WeightsFile)));
    }

    [Fact]
    public void Create_PreparedModelsOff_LoadsTheModelFile()
    {
        var folder = _temp.Sub("prepared");
        new PreparedModels(folder).Prepare(BundledModel);
        var runtime = Runtime(folder);
        runtime.UsePreparedModels = false;

        using var pipeline = InferencePipeline.Create(ModelPackage.Open(BundledPackage.Directory), runtime);

        Assert.Equal(ModelSource.File, pipeline.LoadedFrom);
    }

    [Fact]
    public void Key_FollowsTheContentNotThePath()
    {
        var bytes = new byte[5 << 20];
        new Random(7).NextBytes(bytes);
        File.WriteAllBytes(_temp.Sub("a.onnx"), bytes);
        Directory.CreateDirectory(_temp.Sub("elsewhere"));
        File.WriteAllBytes(Path.Combine(_temp.Sub("elsewhere"), "b.onnx"), bytes);
        var key = PreparedModels.Key(_temp.Sub("a.onnx"));

        Assert.Equal(key, PreparedModels.Key(Path.Combine(_temp.Sub("elsewhere"), "b.onnx")));
        foreach (int at in (int[])[10, bytes.Length / 2, bytes.Length - 10])
        {
            var changed = (byte[])bytes.Clone();
            changed[at] ^= 1;
            File.WriteAllBytes(_temp.Sub("c.onnx"), changed);
            Assert.NotEqual(key, PreparedModels.Key(_temp.Sub("c.onnx")));
        }

        File.WriteAllBytes(_temp.Sub("d.onnx"), bytes[..^1]);
        Assert.NotEqual(key, PreparedModels.Key(_temp.Sub("d.onnx")));

        // A small file is hashed whole: a change anywhere is a new key.
        var small = bytes[..(2 << 20)];
        File.WriteAllBytes(_temp.Sub("e.onnx"), small);
        var smallKey = PreparedModels.Key(_temp.Sub("e.onnx"));
        small[1_234_567] ^= 1;
        File.WriteAllBytes(_temp.Sub("e.onnx"), small);
        Assert.NotEqual(smallKey, PreparedModels.Key(_temp.Sub("e.onnx")));
    }

    [Fact]
    public async Task ModelsPrepare_RootWithPrune_PreparesEveryPackageAndRemovesEntriesOfModelsNoLongerThere()
    {
        var root = _temp.Sub("models");
        TinyCnn.WritePackage(Path.Combine(root, "tiny-cnn", "1"));
        var flat = TinyCnn.WritePackage(Path.Combine(root, "tiny-cnn", "2"), flatten: true);
        var into = _temp.Sub("prepared");
        Directory.CreateDirectory(Path.Combine(into, "0123456789abcdef0123456789abcdef"));

        var (exit, output, error) = await Run("models", "prepare", root, "--into", into, "--prune");

        Assert.True(exit == 0, error);
        Assert.True(output.Contains("tiny-cnn 1: tiny.onnx prepared in", StringComparison.Ordinal), output);
        Assert.True(output.Contains("2 prepared models in " + into + "; removed 1 of models no longer under " + root, StringComparison.Ordinal), output);
        var prepared = new PreparedModels(into);
        Assert.NotNull(prepared.Find(Path.Combine(root, "tiny-cnn", "1", "tiny.onnx")));
        Assert.NotNull(prepared.Find(Path.Combine(flat, "tiny.onnx")));
        Assert.Equal(2, Directory.GetDirectories(into).Length);

        var again = await Run("models", "prepare", Path.Combine(root, "tiny-cnn", "1"), "--into", into);
        Assert.Equal(0, again.Exit);
        Assert.Contains("tiny-cnn 1: tiny.onnx already prepared", again.Output, StringComparison.Ordinal);
        Assert.Contains("1 prepared model in " + into, again.Output, StringComparison.Ordinal);
        Assert.Equal(2, Directory.GetDirectories(into).Length);

        // Another root prepared into the same folder without --prune leaves the first root's entries alone.
        var other = _temp.Sub("other-models");
        TinyCnn.WriteVariant(Path.Combine(other, "gray", "1"), channels: 1);
        File.WriteAllText(Path.Combine(other, "gray", "1", "model.json"), File.ReadAllText(Path.Combine(root, "tiny-cnn", "1", "model.json")).Replace("tiny.onnx", "model.onnx", StringComparison.Ordinal));
        var third = await Run("models", "prepare", other, "--into", into);
        Assert.True(third.Exit == 0, third.Error);
        Assert.Equal(3, Directory.GetDirectories(into).Length);
        var refused = await Run("models", "prepare", Path.Combine(root, "tiny-cnn", "1"), "--into", into, "--prune");
        Assert.Equal(1, refused.Exit);
        Assert.Contains("--prune needs a models root", refused.Error, StringComparison.Ordinal);

        using var pipeline = InferencePipeline.Create(ModelPackage.Open(Path.Combine(root, "tiny-cnn", "1")), Runtime(into));
        Assert.Equal(ModelSource.Prepared, pipeline.LoadedFrom);
    }

    [Fact]
    public async Task ModelsPrepare_BrokenPackage_SaysWhichAndKeepsTheOthersEntries()
    {
        using var models = new ModelRoot();
        var into = _temp.Sub("prepared");
        Directory.CreateDirectory(Path.Combine(into, "0123456789abcdef0123456789abcdef"));

        var (exit, output, error) = await Run("models", "prepare", models.Root, "--into", into, "--prune");

        Assert.Equal(1, exit);
        Assert.Contains("error: broken 1: ONNX Runtime cannot load 'tiny.onnx'", error, StringComparison.Ordinal);
        Assert.DoesNotContain(models.Root, error, StringComparison.Ordinal);
        Assert.Contains("tiny-cnn 2: tiny.onnx", output, StringComparison.Ordinal);
        Assert.True(Directory.Exists(Path.Combine(into, "0123456789abcdef0123456789abcdef")), "nothing is removed after a failure");
    }

    [Fact]
    public async Task ModelsPrepare_MissingFolder_SaysSo()
    {
        var (exit, _, error) = await Run("models", "prepare", _temp.Sub("nowhere"), "--into", _temp.Sub("prepared"));

        Assert.Equal(1, exit);
        Assert.Contains("does not exist", error, StringComparison.Ordinal);
    }

    private static async Task<(int Exit, string Output, string Error)> Run(params string[] args)
    {
        using var output = new StringWriter();
        using var error = new StringWriter();
        int exit = await CommandLineApp.RunAsync(args, output, error);
        return (exit, output.ToString(), error.ToString());
    }
}

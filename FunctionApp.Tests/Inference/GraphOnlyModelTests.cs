using FunctionApp.Inference;
using FunctionApp.Tests.Support;
using Google.Protobuf;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using Onnx;

namespace FunctionApp.Tests.Inference;

public class GraphOnlyModelTests
{
    private static readonly string BundledModel = Path.Combine(AppContext.BaseDirectory, "models", "fashion-resnet18", "1", "resnet18.onnx");

    [Fact]
    public void Prepare_BundledModel_GraphIsSmallAndRunsExactlyLikeTheOriginal()
    {
        using var view = GraphOnlyModel.Prepare(BundledModel);

        Assert.True(view.IsGraphOnly);
        Assert.True(new FileInfo(view.Path).Length < 1 << 20, "the graph without its weights is well under a megabyte");
        var graph = ModelProto.Parser.ParseFrom(File.ReadAllBytes(view.Path)).Graph;
        Assert.All(graph.Initializer.Where(t => t.FloatData.Count > 0 || t.RawData.Length > 0), t => Assert.True(t.FloatData.Count * 4 + t.RawData.Length < GraphOnlyModel.MinExternalBytes));
        Assert.Contains(graph.Initializer, t => t.DataLocation == TensorProto.Types.DataLocation.External);
        Assert.Equal(Run(BundledModel), Run(view.Path));
    }

    [Fact]
    public void Prepare_LargeRawDataAndPackedFloats_BothMoveOutAndTheResultsMatch()
    {
        using var temp = new TempDirectory();
        var model = TinyCnn.Build();
        // A 2,048-element bias added after the pooling: big enough to move, once as raw_data and once as packed floats.
        var values = Enumerable.Range(0, 3 * 1024).Select(i => (i % 7) - 3f).ToArray();
        model.Graph.Initializer.Add(new TensorProto { Name = "big_raw", DataType = (int)TensorProto.Types.DataType.Float, Dims = { values.Length }, RawData = ByteString.CopyFrom(values.SelectMany(BitConverter.GetBytes).ToArray()) });
        model.Graph.Initializer.Add(new TensorProto { Name = "big_packed", DataType = (int)TensorProto.Types.DataType.Float, Dims = { values.Length }, FloatData = { values } });
        model.Graph.Node.Add(new NodeProto { OpType = "Add", Input = { "big_raw", "big_packed" }, Output = { "sum" } });
        model.Graph.Output.Add(new ValueInfoProto { Name = "sum", Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)TensorProto.Types.DataType.Float, Shape = new TensorShapeProto { Dim = { new TensorShapeProto.Types.Dimension { DimValue = values.Length } } } } } });
        var path = temp.Sub("model.onnx");
        File.WriteAllBytes(path, model.ToByteArray());

        using var view = GraphOnlyModel.Prepare(path);

        Assert.True(view.IsGraphOnly);
        var rewritten = ModelProto.Parser.ParseFrom(File.ReadAllBytes(view.Path)).Graph.Initializer;
        Assert.Equal(TensorProto.Types.DataLocation.External, rewritten.Single(t => t.Name == "big_raw").DataLocation);
        Assert.Equal(TensorProto.Types.DataLocation.External, rewritten.Single(t => t.Name == "big_packed").DataLocation);
        Assert.Equal(9, rewritten.Single(t => t.Name == "weight").FloatData.Count);
        var sum = RunOutputs(view.Path)["sum"];
        Assert.Equal(values.Select(v => v * 2), sum);
        Assert.Equal(RunOutputs(path)[TinyCnn.OutputName], RunOutputs(view.Path)[TinyCnn.OutputName]);
    }

    [Theory]
    [InlineData("no large weights")]
    [InlineData("not an ONNX file")]
    public void Prepare_NothingToMove_IsTheOriginalFileAndLeavesNothingBehind(string model)
    {
        using var temp = new TempDirectory();
        var path = model == "no large weights" ? Path.Combine(TinyCnn.WritePackage(temp.Sub("tiny")), "tiny.onnx") : temp.Sub("broken.onnx");
        if (model == "not an ONNX file")
            File.WriteAllBytes(path, [0x3A, 0xFF, 0xFF, 0xFF, 0x0F, 0x01, 0x02]);
        var views = temp.Sub("views");

        using var view = GraphOnlyModel.Prepare(path, views);

        Assert.False(view.IsGraphOnly);
        Assert.Equal(path, view.Path);
        Assert.False(Directory.Exists(views), "nothing is left behind");
    }

    [Fact]
    public void Dispose_RemovesTheViewAndItsEmptyParentButNotTheModel()
    {
        using var temp = new TempDirectory();
        var views = temp.Sub("views");
        var view = GraphOnlyModel.Prepare(BundledModel, views);
        Assert.True(view.IsGraphOnly);
        Assert.True(Directory.Exists(Path.GetDirectoryName(view.Path)));

        view.Dispose();

        Assert.False(Directory.Exists(views));
        Assert.True(File.Exists(BundledModel));
        Assert.True(new FileInfo(BundledModel).Length > 40_000_000);
    }

    [Fact]
    public void Prepare_RemovesViewsLeftByAKilledProcessButNotRecentOnes()
    {
        using var temp = new TempDirectory();
        var views = temp.Sub("views");
        var stale = Directory.CreateDirectory(Path.Combine(views, "left-by-a-killed-process")).FullName;
        File.WriteAllText(Path.Combine(stale, "graph.onnx"), "x");
        Directory.SetLastWriteTimeUtc(stale, DateTime.UtcNow.AddHours(-1));
        var recent = Directory.CreateDirectory(Path.Combine(views, "loading-now")).FullName;

        using (GraphOnlyModel.Prepare(BundledModel, views))
        {
            Assert.False(Directory.Exists(stale));
            Assert.True(Directory.Exists(recent));
        }

        Assert.True(Directory.Exists(recent), "a view still in use elsewhere keeps the parent");
    }

    private static float[] Run(string path)
    {
        using var session = new InferenceSession(path);
        var input = session.InputMetadata.Single(i => i.Value.Dimensions.Length == 4 && i.Value.Dimensions[1] == 3);
        int[] dims = [1, 3, input.Value.Dimensions[2], input.Value.Dimensions[3]];
        var data = new float[dims.Aggregate(1, (a, b) => a * b)];
        for (int i = 0; i < data.Length; i++)
            data[i] = (i % 251) / 251f;
        using var results = session.Run([NamedOnnxValue.CreateFromTensor(input.Key, new DenseTensor<float>(data, dims))]);
        return results[0].AsEnumerable<float>().ToArray();
    }

    private static Dictionary<string, float[]> RunOutputs(string path)
    {
        using var session = new InferenceSession(path);
        var data = Enumerable.Range(0, 3 * TinyCnn.Size * TinyCnn.Size).Select(i => (float)(i % 13)).ToArray();
        using var results = session.Run([NamedOnnxValue.CreateFromTensor(TinyCnn.InputName, new DenseTensor<float>(data, [1, 3, TinyCnn.Size, TinyCnn.Size]))]);
        return results.ToDictionary(r => r.Name, r => r.AsEnumerable<float>().ToArray());
    }
}

using FunctionApp.Inference;
using FunctionApp.Tests.Support;
using Google.Protobuf;
using Onnx;

namespace FunctionApp.Tests.Inference;

/// <summary>Every way a package can disagree with its files or its ONNX graph, and the message that says so.</summary>
[Trait("Category", "EndToEnd")]
public class ModelPackageTests : IDisposable
{
    private readonly TempDirectory _temp = new();

    public void Dispose()
    {
        _temp.Dispose();
        GC.SuppressFinalize(this);
    }

    private string Package(bool flatten = false) => TinyCnn.WritePackage(_temp.Sub("pkg"), flatten);

    private static void EditManifest(string dir, string find, string replace)
    {
        var path = Path.Combine(dir, "model.json");
        var text = File.ReadAllText(path);
        Assert.Contains(find, text, StringComparison.Ordinal);
        File.WriteAllText(path, text.Replace(find, replace, StringComparison.Ordinal));
    }

    private static ModelPackageException LoadFails(string dir) =>
        Assert.Throws<ModelPackageException>(() =>
        {
            using var _ = InferencePipeline.Create(ModelPackage.Open(dir), new OnnxRuntimeOptions { IntraOpThreads = 1 });
        });

    [Fact]
    public void Open_ValidPackage_LoadsItsLabelsAndPaths()
    {
        var package = ModelPackage.Open(Package());

        Assert.Equal(("tiny-cnn", "1"), (package.Name, package.Version));
        Assert.Equal(TinyCnn.Labels, package.Labels);
        Assert.True(File.Exists(package.OnnxPath));
    }

    [Fact]
    public void Open_MissingOnnxFile_NamesIt()
    {
        var dir = Package();
        File.Delete(Path.Combine(dir, "tiny.onnx"));

        var error = LoadFails(dir);

        Assert.Contains("onnxFile 'tiny.onnx' is missing", error.Message);
    }

    [Fact]
    public void Open_MissingManifest_NamesIt()
    {
        var dir = Package();
        File.Delete(Path.Combine(dir, "model.json"));

        Assert.Contains("model.json is missing", LoadFails(dir).Message);
    }

    [Fact]
    public void Open_LabelCountDiffersFromClassCount_SaysBoth()
    {
        var dir = Package();
        File.WriteAllLines(Path.Combine(dir, "labels.txt"), ["blue", "green"]);

        var error = LoadFails(dir);

        Assert.Contains("2 labels", error.Message);
        Assert.Contains("3 classes", error.Message);
    }

    [Fact]
    public void Open_RepeatedLabels_AreAcceptedAndAnswersTellThemApartByIndex()
    {
        // ImageNet's list has two "crane" classes (the bird and the machine): nothing requires labels to be unique.
        var dir = Package();
        File.WriteAllLines(Path.Combine(dir, "labels.txt"), ["crane", "green", "crane"]);

        var package = ModelPackage.Open(dir);
        using var pipeline = InferencePipeline.Create(package, new OnnxRuntimeOptions { IntraOpThreads = 1 });
        var top = ScorePostprocessor.TopK([0.1f, 0.2f, 0.7f], package.Labels, 3);

        Assert.Equal(["crane", "green", "crane"], package.Labels);
        Assert.Equal([(2, "crane"), (1, "green"), (0, "crane")], top.Select(t => (t.Index, t.Label)));
    }

    [Fact]
    public void ReadLabels_SynsetLines_DropTheIdsAndKeepCommas()
    {
        var path = _temp.Sub("synset.txt");
        File.WriteAllLines(path, ["n01440764 tench, Tinca tinca", "n01443537 goldfish, Carassius auratus", "", "n02012849 crane"]);

        Assert.Equal(["tench, Tinca tinca", "goldfish, Carassius auratus", "crane"], ModelPackage.ReadLabels(path));
    }

    [Fact]
    public void ReadLabels_PlainLinesThatMerelyStartLikeAnId_StayWhole()
    {
        // Only a file whose every line is a synset line loses its ids.
        var path = _temp.Sub("plain.txt");
        File.WriteAllLines(path, ["n01440764 tench, Tinca tinca", "goldfish, Carassius auratus"]);

        Assert.Equal(["n01440764 tench, Tinca tinca", "goldfish, Carassius auratus"], ModelPackage.ReadLabels(path));
    }

    [Fact]
    public void Open_VersionUnlikeTheFolderItIsServedFrom_IsRefusedSayingBoth()
    {
        var dir = Package();

        var error = Assert.Throws<ModelPackageException>(() => ModelPackage.Open(dir, PackageUse.Classifier, servedVersion: "2"));

        Assert.Contains("model.json says version '1' but the package's folder is '2'", error.Message);
    }

    [Fact]
    public async Task Serve_FolderVersionUnlikeTheManifests_RefusesToServeItAndSaysWhy()
    {
        // A copy of version 1 dropped in as version 9 without its manifest changed: it must not answer as "9".
        using var models = new ModelRoot();
        var copy = Path.Combine(models.Root, "tiny-cnn", "9");
        Directory.CreateDirectory(copy);
        foreach (var file in Directory.GetFiles(Path.Combine(models.Root, "tiny-cnn", "1")))
            File.Copy(file, Path.Combine(copy, Path.GetFileName(file)));
        await using var server = await RunningServer.StartAsync(models.Settings());
        using var content = new ByteArrayContent(Images.Solid(8, 8, SkiaSharp.SKColors.Red));
        content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("image/png");

        using var pinned = await server.Client.PostAsync("/api/predict?version=9", content);
        var listing = System.Text.Json.JsonDocument.Parse(await server.Client.GetStringAsync("/api/models/tiny-cnn")).RootElement;

        Assert.Equal(System.Net.HttpStatusCode.ServiceUnavailable, pinned.StatusCode);
        Assert.Contains("model.json says version '1' but the package's folder is '9'", await pinned.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        var nine = listing.GetProperty("versions").EnumerateArray().Single(v => v.GetProperty("version").GetString() == "9");
        Assert.Contains("model.json says version '1' but the package's folder is '9'", nine.GetProperty("packageError").GetString(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("models/tiny-cnn/2", "2")]
    [InlineData("anywhere/7", "7")]
    [InlineData("anywhere/1.2", "1.2")]
    [InlineData("anywhere/pkg-2", null)]
    [InlineData("tiny-cnn/latest", "latest")]
    public void FolderVersion_FolderLaidOutAsAModelsRoot_IsItsName(string relative, string? expected)
    {
        Assert.Equal(expected, ModelPackage.FolderVersion(_temp.Sub(relative), "tiny-cnn"));
    }

    [Fact]
    public void Open_FileOutsideThePackage_IsRejected()
    {
        var dir = Package();
        EditManifest(dir, "\"tiny.onnx\"", "\"../tiny.onnx\"");

        Assert.Contains("points outside the package folder", LoadFails(dir).Message);
    }

    [Fact]
    public void Create_InputTensorNotInGraph_NamesItAndTheRealInputs()
    {
        var dir = Package();
        EditManifest(dir, "\"inputTensor\": \"image\"", "\"inputTensor\": \"pixels\"");

        var error = LoadFails(dir);

        Assert.Contains("inputTensor 'pixels' is not an input of the ONNX graph", error.Message);
        Assert.Contains("'image' [?,3,8,8]", error.Message);
    }

    [Fact]
    public void Create_OutputTensorNotInGraph_NamesTheRealOutputs()
    {
        var dir = Package();
        EditManifest(dir, "\"outputTensor\": \"logits\"", "\"outputTensor\": \"scores\"");

        var error = LoadFails(dir);

        Assert.Contains("outputTensor 'scores' is not an output", error.Message);
        Assert.Contains("'logits' [?,3,1,1]", error.Message);
    }

    [Fact]
    public void Create_InputSizeDiffersFromPreprocessing_SaysBothShapes()
    {
        var dir = Package();
        EditManifest(dir, "\"width\": 8, \"height\": 8", "\"width\": 16, \"height\": 16");

        var error = LoadFails(dir);

        Assert.Contains("[?,3,8,8]", error.Message);
        Assert.Contains("[1,3,16,16]", error.Message);
    }

    [Fact]
    public void Create_OutputShapeDiffersFromManifest_SaysBoth()
    {
        var dir = Package();
        EditManifest(dir, "[-1, 3, 1, 1]", "[-1, 3]");

        var error = LoadFails(dir);

        Assert.Contains("output 'logits' has shape [?,3,1,1]", error.Message);
        Assert.Contains("declares [-1,3]", error.Message);
    }

    [Fact]
    public void Create_NonFloatInput_NamesTheElementType()
    {
        var dir = Package();
        File.WriteAllBytes(Path.Combine(dir, "tiny.onnx"), TinyCnn.Build(inputType: TensorProto.Types.DataType.Double).ToByteArray());

        Assert.Contains("element type Double", LoadFails(dir).Message);
    }

    [Fact]
    public void Create_NotAnOnnxFile_SaysSo()
    {
        var dir = Package();
        File.WriteAllText(Path.Combine(dir, "tiny.onnx"), "definitely not protobuf");

        Assert.Contains("is not a readable ONNX model", LoadFails(dir).Message);
    }

    [Fact]
    public void Create_MissingHeadFile_NamesIt()
    {
        var dir = Package();
        EditManifest(dir, "\"labels\": \"labels.txt\"", "\"labels\": \"labels.txt\", \"head\": { \"file\": \"head.zip\" }");

        Assert.Contains("head.file 'head.zip' is missing", LoadFails(dir).Message);
    }

    [Fact]
    public void Create_HeadIsNotAnMlNetModel_SaysSo()
    {
        var dir = Package();
        File.WriteAllText(Path.Combine(dir, "head.zip"), "not a zip");
        EditManifest(dir, "\"labels\": \"labels.txt\"", "\"labels\": \"labels.txt\", \"head\": { \"file\": \"head.zip\" }");

        Assert.Contains("head 'head.zip' is not a saved ML.NET model", LoadFails(dir).Message);
    }

    [Fact]
    public void Open_SeveralProblems_ListsThemAll()
    {
        var dir = Package();
        File.Delete(Path.Combine(dir, "tiny.onnx"));
        File.Delete(Path.Combine(dir, "labels.txt"));

        var error = Assert.Throws<ModelPackageException>(() => ModelPackage.Open(dir));

        Assert.Equal(2, error.Problems.Count);
    }

    [Fact]
    public void Open_FeaturizerUse_IgnoresMissingLabels()
    {
        var dir = Package();
        File.Delete(Path.Combine(dir, "labels.txt"));

        var package = ModelPackage.Open(dir, PackageUse.Featurizer);

        Assert.Empty(package.Labels);
    }
}

using System.Text.Json;
using FunctionApp.Cli;
using FunctionApp.Inference;
using FunctionApp.Tests.Support;

namespace FunctionApp.Tests.Cli;

public class CommandLineTests : IDisposable
{
    private readonly TempDirectory _temp = new();

    public void Dispose()
    {
        _temp.Dispose();
        GC.SuppressFinalize(this);
    }

    private static async Task<(int Exit, string Output, string Error)> Run(params string[] args)
    {
        using var output = new StringWriter();
        using var error = new StringWriter();
        int exit = await CommandLineApp.RunAsync(args, output, error);
        return (exit, output.ToString(), error.ToString());
    }

    private static string Fashion(string label) => Directory.GetFiles(Images.TestData("fashion", label)).Order(StringComparer.Ordinal).First();

    [Fact]
    public void IsWorkerLaunch_OnlyTheFunctionsHostsLaunchArgumentsStartTheWorker()
    {
        Assert.True(CommandLineApp.IsWorkerLaunch(["--host", "127.0.0.1", "--port", "5000", "--workerId", "x", "--requestId", "r"]));
        Assert.True(CommandLineApp.IsWorkerLaunch(["--functions-uri", "http://127.0.0.1:5000/", "--functions-worker-id", "x"]));
        Assert.False(CommandLineApp.IsWorkerLaunch([]));
        Assert.False(CommandLineApp.IsWorkerLaunch(["--verbose", "serve"]));
        Assert.False(CommandLineApp.IsWorkerLaunch(["bogus"]));
    }

    [Theory]
    [InlineData("Unrecognized command or argument 'bogus'", "bogus")]
    [InlineData("Required command was not provided")]
    [InlineData("Required argument 'images' missing", "predict")]
    [InlineData("Unrecognized command or argument '--nope'", "predict", "--nope", "x.png")]
    public async Task CommandLine_NotUnderstood_PrintsTheProblemAndUsageAndExits2(string problem, params string[] args)
    {
        var (exit, output, error) = await Run(args);

        Assert.Equal(2, exit);
        Assert.Empty(output);
        Assert.Contains(problem, error);
        Assert.Contains("Usage:", error);
        Assert.DoesNotContain("   at ", error);
    }

    [Fact]
    public async Task CommandLine_VerboseBeforeTheVerb_RunsTheVerb()
    {
        var (exit, output, error) = await Run("--verbose", "models", "list");

        Assert.True(exit == 0, error);
        Assert.Contains("fashion-resnet18", output);
    }

    [Fact]
    public async Task Predict_DefaultModel_PrintsATable()
    {
        var (exit, output, error) = await Run("predict", Fashion("trouser"), "--top", "2");

        Assert.True(exit == 0, error);
        Assert.Contains("Model fashion-resnet18 version 1", output);
        Assert.Contains("LABEL", output);
        var firstRow = output.Split('\n').First(l => l.Contains(".png", StringComparison.Ordinal));
        Assert.Contains("trouser", firstRow);
    }

    [Fact]
    public async Task Predict_Json_IsMachineReadable()
    {
        var (exit, output, _) = await Run("predict", Fashion("bag"), Fashion("sneaker"), "--json", "--top", "1");

        Assert.Equal(0, exit);
        using var json = JsonDocument.Parse(output);
        Assert.Equal("fashion-resnet18", json.RootElement.GetProperty("model").GetString());
        var images = json.RootElement.GetProperty("images");
        Assert.Equal(2, images.GetArrayLength());
        Assert.Equal("bag", images[0].GetProperty("top")[0].GetProperty("label").GetString());
        Assert.Equal("sneaker", images[1].GetProperty("top")[0].GetProperty("label").GetString());
        Assert.True(images[0].GetProperty("timings").GetProperty("inferenceMs").GetDouble() > 0);
    }

    [Fact]
    public async Task Predict_BadImage_ExitsNonZeroNamingTheFileButAnswersTheRest()
    {
        var bad = Path.Combine(_temp.Path, "notes.png");
        await File.WriteAllTextAsync(bad, "this is text");

        var (exit, output, error) = await Run("predict", bad, Fashion("bag"), Path.Combine(_temp.Path, "missing.jpg"));

        Assert.Equal(1, exit);
        Assert.Contains("notes.png: The data is not a supported image format", error);
        Assert.Contains("missing.jpg", error);
        Assert.Contains("does not exist", error);
        Assert.Contains("bag", output);
    }

    [Fact]
    public async Task Predict_TinyCnnPackage_UsesTheGivenModel()
    {
        var dir = TinyCnn.WritePackage(_temp.Sub("tiny"));
        var image = Path.Combine(_temp.Path, "red.png");
        await File.WriteAllBytesAsync(image, Images.Solid(8, 8, SkiaSharp.SKColors.Red));

        var (exit, output, error) = await Run("predict", image, "--model", dir, "--top", "1");

        Assert.True(exit == 0, error);
        Assert.Contains("Model tiny-cnn version 1", output);
        Assert.Contains("red", output);
    }

    [Fact]
    public async Task Predict_TopZero_IsAUsageError()
    {
        var (exit, _, error) = await Run("predict", Fashion("bag"), "--top", "0");

        Assert.NotEqual(0, exit);
        Assert.Contains("--top must be at least 1", error);
    }

    [Fact]
    public async Task ModelsValidate_DefaultModel_SaysOkWithItsFacts()
    {
        var (exit, output, error) = await Run("models", "validate", BundledPackage.Directory);

        Assert.True(exit == 0, error);
        Assert.Contains("OK: fashion-resnet18 version 1", output);
        Assert.Contains("Input247 [1,3,224,224]", output);
        Assert.Contains("classes 10", output);
    }

    [Fact]
    public async Task ModelsValidate_BrokenPackage_ExitsNonZeroWithTheProblem()
    {
        var dir = TinyCnn.WritePackage(_temp.Sub("tiny"));
        File.WriteAllLines(Path.Combine(dir, "labels.txt"), ["only", "two"]);

        var (exit, _, error) = await Run("models", "validate", dir);

        Assert.Equal(1, exit);
        Assert.Contains("labels file has 2 labels but outputShape declares 3 classes", error);
    }

    [Fact]
    public async Task ModelsImport_PrintsWhatItReadWhatItGuessedAndTheManifest()
    {
        var onnx = TinyCnn.WriteVariant(_temp.Sub("export"), softmax: true, weightsAmongInputs: true);
        var labels = _temp.Sub("labels.txt");
        File.WriteAllLines(labels, ["red, scarlet", "green", "red, scarlet"]);

        var (exit, output, error) = await Run("models", "import", onnx, "--name", "colours", "--labels", labels, "--out", _temp.Sub("models"));

        Assert.True(exit == 0, error);
        Assert.Contains($"Imported colours version 1 into {Path.Combine(_temp.Sub("models"), "colours", "1")}", output);
        Assert.Contains("Read from the graph:", output);
        Assert.Contains("  input    image [?,3,8,8] float: NCHW, 3 channels, 8x8, batch dynamic; 2 weights listed among the graph inputs were left out", output);
        Assert.Contains("Guessed (each has an option to set it):", output);
        Assert.Contains("  preset   torchvision: no --preset: made by FunctionApp.Tests, with an NCHW colour input", output);
        Assert.Contains("  scores   probabilities: on the probe image every output lies in 0..1", output);
        Assert.Contains("  classes 3: 0 \"red, scarlet\", 1 \"green\", 2 \"red, scarlet\"", output);
        Assert.Contains("1 labels repeat, such as \"red, scarlet\" (0 and 2): answers tell them apart by their class index", output);
        var manifest = FunctionApp.Inference.ModelManifest.Parse(output[(output.IndexOf("model.json:", StringComparison.Ordinal) + "model.json:".Length)..]);
        Assert.Equal(("colours", "1", FunctionApp.Inference.ScoreKind.Probabilities), (manifest.Name, manifest.Version, manifest.Scores));
    }

    [Fact]
    public async Task ModelsImport_NotAnOnnxFile_SaysSoWithoutAStackTrace()
    {
        var bogus = _temp.Sub("model.onnx");
        await File.WriteAllTextAsync(bogus, "not a model");

        var (exit, _, error) = await Run("models", "import", bogus, "--name", "x", "--out", _temp.Sub("models"));

        Assert.Equal(1, exit);
        Assert.StartsWith("error: model.onnx is not an ONNX model", error, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ModelsValidate_SeveralProblems_ListsEveryOne()
    {
        var dir = TinyCnn.WritePackage(Path.Combine(_temp.Path, "tiny-cnn", "4"));
        File.WriteAllLines(Path.Combine(dir, "labels.txt"), ["only", "two"]);
        File.WriteAllText(Path.Combine(dir, "model.json"), File.ReadAllText(Path.Combine(dir, "model.json")).Replace("\"outputTensor\": \"logits\"", "\"outputTensor\": \"scores\"", StringComparison.Ordinal));

        var (exit, _, error) = await Run("models", "validate", dir);

        Assert.Equal(1, exit);
        Assert.Contains($"error: the model package in {dir} has 3 problems:", error);
        Assert.Contains("  - labels file has 2 labels but outputShape declares 3 classes", error);
        Assert.Contains("  - model.json says version '1' but the package's folder is '4'", error);
        Assert.Contains("  - outputTensor 'scores' is not an output of the ONNX graph; its outputs: 'logits' [?,3,1,1]", error);
    }

    [Fact]
    public async Task ModelsSeal_VersionFolder_WritesTheFoldersVersion_OtherFoldersKeepTheManifests()
    {
        var laidOut = TinyCnn.WritePackage(Path.Combine(_temp.Path, "tiny-cnn", "2"));
        var elsewhere = TinyCnn.WritePackage(_temp.Sub("pkg-2"));

        var (exit, output, error) = await Run("models", "seal", laidOut);
        var (exit2, output2, _) = await Run("models", "seal", elsewhere);

        Assert.True(exit == 0 && exit2 == 0, error);
        Assert.Equal("Sealed tiny-cnn version 2 (the folder's version; model.json said 1): 2 files listed in model.json", output.Trim());
        Assert.Equal("Sealed tiny-cnn version 1: 2 files listed in model.json", output2.Trim());
        Assert.Equal("2", FunctionApp.Inference.ModelPackage.Open(laidOut).Version);
    }

    [Theory]
    [InlineData("predict")]
    [InlineData("train")]
    [InlineData("evaluate")]
    [InlineData("import-fashion-mnist")]
    [InlineData("slice")]
    public async Task Help_EveryVerb_DescribesItsOptions(string verb)
    {
        var (exit, output, _) = await Run(verb, "--help");

        Assert.Equal(0, exit);
        Assert.Contains("Usage:", output);
        Assert.Contains("Options:", output);
    }

    [Fact]
    public async Task Help_ModelsImport_ListsThePresetsAndOverrides()
    {
        var (exit, output, _) = await Run("models", "import", "--help");

        Assert.Equal(0, exit);
        foreach (var option in new[] { "--name", "--version", "--labels", "--preset", "--out", "--layout", "--channel-order", "--pixel-scale", "--mean", "--std", "--resize", "--size" })
            Assert.Contains(option, output);
        Assert.Contains("torchvision, caffe, tensorflow, unit, raw", output);
    }

    [Fact]
    public async Task Help_ModelsValidate_DescribesIt()
    {
        var (exit, output, _) = await Run("models", "validate", "--help");

        Assert.Equal(0, exit);
        Assert.Contains("Check a model package", output);
    }
}

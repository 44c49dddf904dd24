using System.Net.Http.Headers;
using System.Text.Json;
using FunctionApp.Classification;
using FunctionApp.Cli;
using FunctionApp.Inference;
using FunctionApp.Slicing;
using FunctionApp.Tests.Support;
using Microsoft.Extensions.DependencyInjection;
using SkiaSharp;

namespace FunctionApp.Tests.Slicing;

/// <summary>A sliced package is a model package like any other: the CLI, the classifier and HTTP serve it.</summary>
[Trait("Category", "EndToEnd")]
public sealed class SlicedPackageTests : IDisposable
{
    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    private static async Task<(int Exit, string Output, string Error)> Cli(params string[] args)
    {
        using var output = new StringWriter();
        using var error = new StringWriter();
        int exit = await CommandLineApp.RunAsync(args, output, error);
        return (exit, output.ToString(), error.ToString());
    }

    [Fact]
    public async Task SliceVerb_TinyCnn_WritesAPackageThatValidatesAndAgrees()
    {
        var original = TinyCnn.WritePackage(_temp.Sub("tiny"));
        var sliced = _temp.Sub("tiny-sliced");

        var (exit, output, error) = await Cli("slice", "--model", original, "--slices", "2", "--out", sliced);
        var validate = await Cli("models", "validate", sliced);

        Assert.True(exit == 0, error);
        Assert.Contains("Wrote 2 slices of tiny-cnn version 1", output);
        Assert.True(validate.Exit == 0, validate.Error);
        var manifest = ModelManifest.Parse(File.ReadAllText(Path.Combine(sliced, "model.json")));
        Assert.Equal(["slice-0.onnx", "slice-1.onnx"], manifest.Slices!.Select(s => s.File));
        Assert.Equal("image", manifest.Slices![0].Inputs.Single().Name);
        Assert.False(File.Exists(Path.Combine(sliced, "tiny.onnx")), "the whole model is not part of the sliced package");

        await using var services = TestServices.Create(new Dictionary<string, string?> { ["OnnxRuntime:IntraOpThreads"] = "1" });
        var classifier = services.GetRequiredService<ImageClassifier>();
        foreach (var colour in new[] { SKColors.Red, SKColors.Blue, new SKColor(10, 200, 30) })
        {
            var image = new NamedImage("x", Images.Solid(8, 8, colour));
            var a = await classifier.ClassifyAsync(image, new ModelEntry("tiny-cnn", "1", original), topK: 3);
            var b = await classifier.ClassifyAsync(image, new ModelEntry("tiny-cnn", "1", sliced), topK: 3);
            Assert.Equal(a.Images[0].Top!.Select(t => t.Label), b.Images[0].Top!.Select(t => t.Label));
            Assert.All(a.Images[0].Top!.Zip(b.Images[0].Top!), p => Assert.Equal(p.First.Score, p.Second.Score, 1e-5f));
        }
    }

    [Fact]
    public async Task SliceVerb_OutIntoAVersionFolder_WritesThatVersion()
    {
        using var models = new ModelRoot();
        var target = Path.Combine(models.Root, "tiny-cnn", "7");

        var (exit, output, error) = await Cli("slice", "--model", Path.Combine(models.Root, "tiny-cnn", "1"), "--slices", "2", "--out", target);

        Assert.True(exit == 0, error);
        Assert.Contains($"to {target} as version 7", output, StringComparison.Ordinal);
        Assert.Equal("7", ModelManifest.Parse(File.ReadAllText(Path.Combine(target, "model.json"))).Version);
        await using var services = TestServices.Create(models.Settings());
        var answer = await services.GetRequiredService<ImageClassifier>().ClassifyAsync(new NamedImage("x", Images.Solid(8, 8, SKColors.Red)), "tiny-cnn", "7", 1);
        Assert.Equal(("7", "red"), (answer.Version, answer.Images[0].Top![0].Label));
    }

    [Fact]
    public async Task SliceVerb_MaxSliceMbBelowOneNodesWeights_NamesTheNodeAndWritesNothing()
    {
        var original = TinyCnn.WritePackage(_temp.Sub("tiny"));
        var target = _temp.Sub("too-small");

        // The tiny CNN's only weights: its convolution's 12 floats (48 bytes), above a limit of about 10 bytes.
        var (exit, output, error) = await Cli("slice", "--model", original, "--max-slice-mb", "0.00001", "--out", target);

        Assert.Equal(1, exit);
        Assert.Contains("No slice can stay under 0.00 MB: node 0 (Conv 'conv_conv', output 'conv') alone holds 0.00 MB of weights. Use a limit of at least 0.01 MB.", error, StringComparison.Ordinal);
        Assert.Empty(output);
        Assert.False(Directory.Exists(target));
    }

    [Fact]
    public async Task SliceVerb_GrayscaleModel_AgreesWithTheWholeModel()
    {
        var onnx = TinyCnn.WriteVariant(_temp.Sub("export"), channels: 1, weightsAmongInputs: true);
        var root = _temp.Sub("models");
        var import = await Cli("models", "import", onnx, "--name", "gray", "--labels", Path.Combine(_temp.Sub("export"), "labels.txt"), "--out", root);
        Assert.True(import.Exit == 0, import.Error);

        var (exit, _, error) = await Cli("slice", "--model", Path.Combine(root, "gray", "1"), "--slices", "2", "--out", Path.Combine(root, "gray", "2"));

        Assert.True(exit == 0, error);
        await using var services = TestServices.Create(new Dictionary<string, string?> { ["Models:Root"] = root, ["OnnxRuntime:IntraOpThreads"] = "1" });
        var classifier = services.GetRequiredService<ImageClassifier>();
        foreach (var colour in new[] { SKColors.White, SKColors.Black, new SKColor(90, 140, 200) })
        {
            var image = new NamedImage("x", Images.Solid(12, 12, colour));
            var whole = (await classifier.ClassifyAsync(image, "gray", "1", 2)).Images[0].Top!;
            var sliced = (await classifier.ClassifyAsync(image, "gray", "2", 2)).Images[0].Top!;
            Assert.Equal(whole.Select(t => t.Label), sliced.Select(t => t.Label));
            Assert.All(whole.Zip(sliced), p => Assert.Equal(p.First.Score, p.Second.Score, 1e-5f));
        }
    }

    [Fact]
    public async Task SlicedBundledModel_ClassifiesFashionImagesLikeTheOriginal()
    {
        var entry = TestServicesDefault.Entry();
        var sliced = PackageSlicer.Slice(ModelPackage.Open(entry.Directory), slices: 3, maxSliceBytes: null, _temp.Sub("resnet-3"));
        await using var services = TestServices.Create();
        var classifier = services.GetRequiredService<ImageClassifier>();

        Assert.Equal(3, sliced.Slices.Count);
        foreach (var file in Directory.GetFiles(Images.TestData("fashion", "sneaker")).Concat(Directory.GetFiles(Images.TestData("fashion", "coat"))).Take(6))
        {
            var image = new NamedImage(file, await File.ReadAllBytesAsync(file));
            var a = (await classifier.ClassifyAsync(image, entry, topK: 2)).Images[0].Top!;
            var b = (await classifier.ClassifyAsync(image, new ModelEntry(entry.Name, entry.Version, sliced.Directory), topK: 2)).Images[0].Top!;
            Assert.Equal(a.Select(t => t.Label), b.Select(t => t.Label));
            Assert.Equal(a[0].Score, b[0].Score, 1e-4f);
        }
    }

    [Fact]
    public async Task OneSliceAtATime_ServesTheSameAnswersAsAllResident()
    {
        var entry = TestServicesDefault.Entry();
        var sliced = PackageSlicer.Slice(ModelPackage.Open(entry.Directory), slices: 4, maxSliceBytes: null, _temp.Sub("resnet-4"));
        var slicedEntry = new ModelEntry(entry.Name, entry.Version, sliced.Directory);
        await using var resident = TestServices.Create();
        await using var oneAtATime = TestServices.Create(new Dictionary<string, string?> { ["OnnxRuntime:SliceResidency"] = "OneAtATime" });

        foreach (var file in Directory.GetFiles(Images.TestData("fashion", "trouser")).Take(3))
        {
            var image = new NamedImage(file, await File.ReadAllBytesAsync(file));
            var a = (await resident.GetRequiredService<ImageClassifier>().ClassifyAsync(image, slicedEntry, topK: 3)).Images[0].Top!;
            var b = (await oneAtATime.GetRequiredService<ImageClassifier>().ClassifyAsync(image, slicedEntry, topK: 3)).Images[0].Top!;
            Assert.Equal(a.Select(t => t.Label), b.Select(t => t.Label));
            Assert.All(a.Zip(b), p => Assert.Equal(p.First.Score, p.Second.Score, 1e-5f));
        }
    }

    [Fact]
    public async Task SlicedVersion_ServedOverHttp_AnswersLikeTheWholeModel()
    {
        using var models = new ModelRoot();
        PackageSlicer.Slice(ModelPackage.Open(Path.Combine(models.Root, "tiny-cnn", "1")), slices: 3, maxSliceBytes: null, Path.Combine(models.Root, "tiny-cnn", "3"));
        var manifest = Path.Combine(models.Root, "tiny-cnn", "3", "model.json");
        File.WriteAllText(manifest, File.ReadAllText(manifest).Replace("\"version\": \"1\"", "\"version\": \"3\"", StringComparison.Ordinal));
        await using var server = await RunningServer.StartAsync(models.Settings());

        async Task<JsonElement> Predict(string version)
        {
            using var content = new ByteArrayContent(Images.Solid(8, 8, new SKColor(40, 90, 200)));
            content.Headers.ContentType = new MediaTypeHeaderValue("image/png");
            using var response = await server.Client.PostAsync($"/api/predict?top=3&version={version}", content);
            response.EnsureSuccessStatusCode();
            return JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
        }

        var whole = await Predict("1");
        var sliced = await Predict("3");

        Assert.Equal("3", sliced.GetProperty("version").GetString());
        var a = whole.GetProperty("images")[0].GetProperty("top");
        var b = sliced.GetProperty("images")[0].GetProperty("top");
        for (int i = 0; i < 3; i++)
        {
            Assert.Equal(a[i].GetProperty("label").GetString(), b[i].GetProperty("label").GetString());
            Assert.Equal(a[i].GetProperty("score").GetSingle(), b[i].GetProperty("score").GetSingle(), 1e-5f);
        }
    }
}

internal static class TestServicesDefault
{
    public static ModelEntry Entry() => new("fashion-resnet18", "1", BundledPackage.Directory);
}

using FunctionApp.Classification;
using FunctionApp.Cli;
using FunctionApp.Models;
using FunctionApp.Tests.Support;
using Microsoft.Extensions.DependencyInjection;
using SkiaSharp;

namespace FunctionApp.Tests.Models;

/// <summary>Model packages published to the models container (Azurite): fetched once, verified, loaded, switched to.</summary>
[Trait("Category", "EndToEnd")]
public sealed class BlobModelRepositoryTests(BlobFlow flow) : IClassFixture<BlobFlow>, IDisposable
{
    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    private ServiceProvider Services(string cache, string model) => flow.CreateServices(s =>
    {
        s["Models:Source"] = "Blob";
        s["Models:Root"] = cache;
        s["Models:Default"] = model;
    });

    /// <summary>Writes, seals (with the CLI) and uploads a tiny CNN package as {model}/{version}.</summary>
    private async Task<string> Publish(string version, Action<string>? tamperAfterSealing = null, bool seal = true, string model = "blob-cnn")
    {
        var dir = TinyCnn.WritePackage(_temp.Sub($"pkg-{model}-{version}"));
        var manifest = Path.Combine(dir, "model.json");
        File.WriteAllText(manifest, File.ReadAllText(manifest).Replace("\"tiny-cnn\"", $"\"{model}\"", StringComparison.Ordinal).Replace("\"version\": \"1\"", $"\"version\": \"{version}\"", StringComparison.Ordinal));
        if (seal)
        {
            using var output = new StringWriter();
            using var error = new StringWriter();
            Assert.Equal(0, await CommandLineApp.RunAsync(["models", "seal", dir], output, error));
            Assert.Contains("2 files listed", output.ToString());
        }

        tamperAfterSealing?.Invoke(dir);
        var container = flow.Storage.Service.GetBlobContainerClient("models");
        foreach (var file in Directory.GetFiles(dir))
            await container.GetBlobClient($"{model}/{version}/{Path.GetFileName(file)}").UploadAsync(file, overwrite: true);
        return dir;
    }

    [Fact]
    public async Task Refresh_PublishedVersions_AreCachedVerifiedAndServedNewestFirst()
    {
        var cache = _temp.Sub("cache");
        await using var services = Services(cache, "blob-cnn");
        await Publish("1");
        var refresher = services.GetRequiredService<ModelRefreshService>();
        var classifier = services.GetRequiredService<ImageClassifier>();
        var image = new NamedImage("blue", Images.Solid(8, 8, SKColors.Blue));

        await refresher.RefreshAsync(CancellationToken.None);
        var first = await classifier.ClassifyAsync(image);

        Assert.True(File.Exists(Path.Combine(cache, "blob-cnn", "1", "tiny.onnx")));
        Assert.Equal(("blob-cnn", "1", "blue"), (first.Model, first.Version, first.Images[0].Top![0].Label));

        await Publish("2");
        await Publish("3", tamperAfterSealing: dir => File.AppendAllText(Path.Combine(dir, "labels.txt"), "extra\n"));
        await Publish("4", seal: false);
        await refresher.RefreshAsync(CancellationToken.None);

        Assert.Equal("2", (await classifier.ClassifyAsync(image)).Version);
        Assert.False(Directory.Exists(Path.Combine(cache, "blob-cnn", "3")), "a file that does not match its digest keeps the version out");
        Assert.False(Directory.Exists(Path.Combine(cache, "blob-cnn", "4")), "an unsealed package is not used");
        Assert.Empty(Directory.GetDirectories(Path.Combine(cache, ".staging")));
    }

    [Fact]
    public async Task Sync_VersionAlreadyCached_IsNotDownloadedAgain()
    {
        var cache = _temp.Sub("cache-again");
        await using var services = Services(cache, "blob-other");
        await Publish("7", model: "blob-other");
        var repository = services.GetRequiredService<FunctionApp.Models.BlobModelRepository>();

        var first = await repository.SyncAsync(CancellationToken.None);
        var second = await repository.SyncAsync(CancellationToken.None);

        Assert.True(first >= 1);
        Assert.Equal(0, second);
    }
}

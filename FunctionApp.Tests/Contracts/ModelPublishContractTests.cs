using System.Net.Http.Json;
using System.Text.Json;
using FunctionApp.Cli;
using FunctionApp.Tests.Support;
using SkiaSharp;

namespace FunctionApp.Tests.Contracts;

/// <summary>
/// <c>models/</c> through the trigger engine on an empty account (<c>Models:Source=Blob</c>): a published version is
/// served, a damaged one never is, and publishing the same files again changes nothing.
/// </summary>
[Trait("Category", "EndToEnd")]
public sealed class ModelPublishContractTests : IDisposable
{
    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    private async Task PublishAsync(ServeOnEmptyAccount serve, string version, Action<string>? tamperAfterSealing = null)
    {
        var dir = TinyCnn.WritePackage(_temp.Sub($"pkg-{version}"));
        var manifest = Path.Combine(dir, "model.json");
        File.WriteAllText(manifest, File.ReadAllText(manifest).Replace("\"tiny-cnn\"", "\"blob-cnn\"", StringComparison.Ordinal).Replace("\"version\": \"1\"", $"\"version\": \"{version}\"", StringComparison.Ordinal));
        using (var output = new StringWriter())
        using (var error = new StringWriter())
            Assert.Equal(0, await CommandLineApp.RunAsync(["models", "seal", dir], output, error));
        tamperAfterSealing?.Invoke(dir);
        foreach (var file in Directory.GetFiles(dir))
            await serve.Storage.Container("models").GetBlobClient($"blob-cnn/{version}/{Path.GetFileName(file)}").UploadAsync(file, overwrite: true);
    }

    private static async Task<Dictionary<string, JsonElement>> VersionsAsync(ServeOnEmptyAccount serve)
    {
        using var response = await serve.Server.Client.GetAsync("/api/models/blob-cnn");
        if (!response.IsSuccessStatusCode)
            return [];
        var body = await response.Content.ReadFromJsonAsync<JsonElement>();
        return body.GetProperty("versions").EnumerateArray().ToDictionary(v => v.GetProperty("version").GetString()!, v => v.Clone());
    }

    [Fact]
    public async Task Models_PublishedDamagedAndRepublished_OnlyTheSoundVersionServes()
    {
        var cache = _temp.Sub("cache");
        await using var serve = await ServeOnEmptyAccount.StartAsync(s => (s["Models:Source"], s["Models:Root"], s["Models:Default"]) = ("Blob", cache, "blob-cnn"));

        // Nothing published yet: the models container exists (the app made it) and is empty.
        Assert.Empty(await ServeOnEmptyAccount.NamesAsync(serve.Storage.Container("models")));
        await PublishAsync(serve, "1");
        await Poll.UntilAsync(async () => (await VersionsAsync(serve)).ContainsKey("1"), TimeSpan.FromSeconds(60), "version 1 to be fetched");
        using (var image = new ByteArrayContent(Images.Solid(8, 8, SKColors.Blue)))
        {
            image.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("image/png");
            using var answer = await serve.Server.Client.PostAsync("/api/predict", image);
            var json = await answer.Content.ReadFromJsonAsync<JsonElement>();
            Assert.Equal(("blob-cnn", "1", "blue"), (json.GetProperty("model").GetString(), json.GetProperty("version").GetString(), json.GetProperty("images")[0].GetProperty("top")[0].GetProperty("label").GetString()));
        }

        // Version 2's labels were changed after sealing: it is never cached, so never listed or served.
        await PublishAsync(serve, "2", dir => File.AppendAllText(Path.Combine(dir, "labels.txt"), "extra\n"));
        await Poll.UntilAsync(() => Task.FromResult(serve.Logs.Entries.Any(e => e.Message.StartsWith("Model blob-cnn version 2 in blob storage was not used", StringComparison.Ordinal))), TimeSpan.FromSeconds(60), "version 2 to be rejected");

        // The same files again: the cached version 1 stays as it was.
        var cached = File.GetLastWriteTimeUtc(Path.Combine(cache, "blob-cnn", "1", "model.json"));
        await PublishAsync(serve, "1");
        await TriggerEngineQueue.WaitUntilHandledAsync(serve);

        Assert.Equal(["1"], (await VersionsAsync(serve)).Keys);
        Assert.False(Directory.Exists(Path.Combine(cache, "blob-cnn", "2")));
        Assert.Equal(cached, File.GetLastWriteTimeUtc(Path.Combine(cache, "blob-cnn", "1", "model.json")));
    }
}

using System.Net.Http.Headers;
using System.Net;
using System.Text.Json;
using FunctionApp.Inference;
using FunctionApp.Slicing;
using FunctionApp.Tests.Support;
using SkiaSharp;

namespace FunctionApp.Tests.Contracts;

/// <summary>
/// <c>chain-images/</c> and the <c>slice-steps</c> queue through the trigger engine on an empty account, with the
/// default model's active version sliced in three.
/// </summary>
[Trait("Category", "EndToEnd")]
public class ChainContractTests
{
    /// <summary>tiny-cnn version 5: version 1 cut into 3 slices (the newest, so the default).</summary>
    private static void AddSlicedVersion(string modelsRoot, Action<string>? damage = null)
    {
        var sliced = Path.Combine(modelsRoot, "tiny-cnn", "5");
        PackageSlicer.Slice(ModelPackage.Open(Path.Combine(modelsRoot, "tiny-cnn", "1")), slices: 3, maxSliceBytes: null, sliced);
        var manifest = Path.Combine(sliced, "model.json");
        File.WriteAllText(manifest, File.ReadAllText(manifest).Replace("\"version\": \"1\"", "\"version\": \"5\"", StringComparison.Ordinal));
        damage?.Invoke(sliced);
    }

    private static Task<ServeOnEmptyAccount> StartAsync(Action<string>? damage = null, Action<Dictionary<string, string?>>? change = null, bool storageReachable = true) =>
        ServeOnEmptyAccount.StartAsync(
            s =>
            {
                AddSlicedVersion(s["Models:Root"]!, damage);
                change?.Invoke(s);
            },
            waitForProvisioning: storageReachable);

    private static bool Status(JsonElement json, string status) => json.GetProperty("status").GetString() == status;

    [Fact]
    public async Task ChainImages_ValidCorruptAndOverwritten_EachEndsWithExactlyOneCurrentOutcome()
    {
        await using var serve = await StartAsync(change: s => (s["Storage:SweepInterval"], s["Storage:SweepGrace"]) = ("00:00:01", "00:00:04"));
        var dropped = serve.Storage.ChainImages;
        await dropped.GetBlobClient("leaves/green one.png").UploadAsync(new BinaryData(Images.Solid(8, 8, new SKColor(0, 240, 0))));
        await dropped.GetBlobClient("leaves/notes.txt").UploadAsync(BinaryData.FromString("not an image"));

        var good = await ServeOnEmptyAccount.WaitForJsonAsync(serve.Storage.ChainResults, "leaves/green one.png.json", j => Status(j, "finished"));
        var bad = await ServeOnEmptyAccount.WaitForJsonAsync(serve.Storage.ChainResults, "leaves/notes.txt.json", j => Status(j, "failed"));
        Assert.Equal(("green", "5"), (good.GetProperty("top")[0].GetProperty("label").GetString(), good.GetProperty("version").GetString()));
        Assert.Contains("not a supported image format", bad.GetProperty("error").GetString());

        await dropped.GetBlobClient("leaves/green one.png").UploadAsync(new BinaryData(Images.Solid(8, 8, SKColors.Red)), overwrite: true);
        await ServeOnEmptyAccount.WaitForJsonAsync(serve.Storage.ChainResults, "leaves/green one.png.json", j => Status(j, "finished") && j.GetProperty("top")[0].GetProperty("label").GetString() == "red");

        Assert.Equal(["leaves/green one.png.json", "leaves/notes.txt.json"], await ServeOnEmptyAccount.NamesAsync(serve.Storage.ChainResults));
        // A finished chain removes its intermediate tensors right after it writes its outcome (in that order, so a
        // retry after a crash still finds the last tensor): wait for that, then nothing but the states is left.
        await Poll.UntilAsync(
            async () => (await ServeOnEmptyAccount.NamesAsync(serve.Storage.Chains)).All(n => n.EndsWith("/state.json", StringComparison.Ordinal)),
            TimeSpan.FromSeconds(30),
            "the finished chains to remove their intermediate tensors");
        Assert.DoesNotContain(await ServeOnEmptyAccount.NamesAsync(serve.Storage.Chains), n => !n.EndsWith("/state.json", StringComparison.Ordinal));
    }

    [Fact]
    public async Task ChainImage_FailsEveryTry_EndsAsAFailedOutcomeWithTheLastError()
    {
        // The default model's package cannot be opened (its labels are missing when the catalog reads it): starting the
        // chain fails every try, and the blob lands in poison.
        await using var serve = await StartAsync(change: s =>
        {
            s["Models:Default"] = "broken";
            File.Delete(Path.Combine(s["Models:Root"]!, "broken", "1", "labels.txt"));
        });
        await serve.Storage.ChainImages.GetBlobClient("doomed.png").UploadAsync(new BinaryData(Images.Solid(8, 8, SKColors.Red)));

        var outcome = await ServeOnEmptyAccount.WaitForJsonAsync(serve.Storage.ChainResults, "doomed.png.json");

        Assert.Equal("failed", outcome.GetProperty("status").GetString());
        Assert.StartsWith("Processing failed 5 times; the last error: ", outcome.GetProperty("error").GetString());
        Assert.Equal(["doomed.png.json"], await ServeOnEmptyAccount.NamesAsync(serve.Storage.ChainResults));
    }

    [Fact]
    public async Task SliceStep_FailsEveryTry_MarksTheChainFailedSoItsCallerHearsWhy()
    {
        // The second slice's file is damaged after validation: step 1 fails every try and lands in slice-steps-poison.
        await using var serve = await StartAsync(damage: dir => File.WriteAllText(Path.Combine(dir, "slice-1.onnx"), "damaged"));
        using var image = new ByteArrayContent(Images.Solid(8, 8, SKColors.Blue));
        image.Headers.ContentType = new MediaTypeHeaderValue("image/png");

        using var accepted = await serve.Server.Client.PostAsync("/api/chains?version=5", image);
        Assert.Equal(HttpStatusCode.Accepted, accepted.StatusCode);
        var location = accepted.Headers.Location!.ToString();
        var answer = await Poll.UntilAsync<JsonDocument>(async () =>
        {
            using var poll = await serve.Server.Client.GetAsync(location);
            return poll.StatusCode == HttpStatusCode.OK ? JsonDocument.Parse(await poll.Content.ReadAsStringAsync()) : null;
        }, TimeSpan.FromSeconds(60), "the chain to end");

        using (answer)
        {
            Assert.Equal("failed", answer.RootElement.GetProperty("status").GetString());
            Assert.StartsWith("Step 1 failed 5 times; the last error: ", answer.RootElement.GetProperty("error").GetString());
        }
    }

    [Fact]
    public async Task StartChain_QueueServiceUnreachable_Answers503WithRetryAfterWithinSeconds()
    {
        await using var serve = await StartAsync(change: s =>
        {
            // Blobs answer; the queue endpoint is a port nobody listens on. The triggers are off: only the route is tried.
            s["AzureWebJobsStorage"] = System.Text.RegularExpressions.Regex.Replace(s["AzureWebJobsStorage"]!, "QueueEndpoint=[^;]+;", "QueueEndpoint=http://127.0.0.1:9/devstoreaccount1;", System.Text.RegularExpressions.RegexOptions.None, TimeSpan.FromSeconds(1));
            s["Storage:Watch"] = "false";
        }, storageReachable: false);
        using var image = new ByteArrayContent(Images.Solid(8, 8, SKColors.Blue));
        image.Headers.ContentType = new MediaTypeHeaderValue("image/png");
        var clock = System.Diagnostics.Stopwatch.StartNew();

        using var response = await serve.Server.Client.PostAsync("/api/chains?version=5", image);

        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(5), $"answered after {clock.Elapsed.TotalSeconds:F1} s");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType!.MediaType);
        Assert.Equal(TimeSpan.FromSeconds(7), response.Headers.RetryAfter!.Delta);
    }
}

using System.Net.Http.Headers;
using System.Net;
using System.Text.Json;
using FunctionApp.Chains;
using FunctionApp.Classification;
using FunctionApp.Functions;
using FunctionApp.Inference;
using FunctionApp.Models;
using FunctionApp.Slicing;
using FunctionApp.Storage;
using FunctionApp.Tests.Support;
using Microsoft.Extensions.DependencyInjection;
using SkiaSharp;

namespace FunctionApp.Tests.Chains;

/// <summary>A sliced model as a chain of steps passing tensors through blob storage and a queue (Azurite).</summary>
[Trait("Category", "EndToEnd")]
public sealed class SliceChainTests(BlobFlow flow) : IClassFixture<BlobFlow>, IDisposable
{
    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    /// <summary>A models root whose tiny-cnn version 5 is version 1 cut into 3 slices.</summary>
    private Dictionary<string, string?> SlicedSettings()
    {
        var settings = flow.Settings();
        var root = settings["Models:Root"]!;
        var sliced = Path.Combine(root, "tiny-cnn", "5");
        if (!Directory.Exists(sliced))
        {
            PackageSlicer.Slice(ModelPackage.Open(Path.Combine(root, "tiny-cnn", "1")), slices: 3, maxSliceBytes: null, sliced);
            var manifest = Path.Combine(sliced, "model.json");
            File.WriteAllText(manifest, File.ReadAllText(manifest).Replace("\"version\": \"1\"", "\"version\": \"5\"", StringComparison.Ordinal));
        }

        return settings;
    }

    [Fact]
    public async Task Chain_RunsEveryStepThroughStorage_AnswersLikeTheWholeModel_AndCleansUp()
    {
        await using var services = TestServices.Create(SlicedSettings());
        var chain = services.GetRequiredService<SliceChain>();
        var image = new NamedImage("x", Images.Solid(8, 8, new SKColor(30, 220, 60)));

        var started = await chain.StartAsync(image, "tiny-cnn", "5", topK: 3, CancellationToken.None);
        Assert.Equal(("running", 3), (started.Status, started.Steps));
        await RunStepsAsync(chain);
        var done = await chain.GetAsync(started.Id, CancellationToken.None);

        var whole = await services.GetRequiredService<ImageClassifier>().ClassifyAsync(image, "tiny-cnn", "1", 3);
        Assert.Equal("finished", done!.Status);
        Assert.Equal(whole.Images[0].Top!.Select(t => t.Label), done.Top!.Select(t => t.Label));
        Assert.All(whole.Images[0].Top!.Zip(done.Top!), p => Assert.Equal(p.First.Score, p.Second.Score, 1e-5f));
        var left = new List<string>();
        await foreach (var blob in flow.Storage.Chains.GetBlobsAsync(Azure.Storage.Blobs.Models.BlobTraits.None, Azure.Storage.Blobs.Models.BlobStates.None, started.Id + "/", CancellationToken.None))
            left.Add(blob.Name);
        Assert.Equal([$"{started.Id}/state.json"], left);

        // The chain ran on the version's engine pool: one prediction in its traffic, its load in the cold-start facts.
        var pool = services.GetRequiredService<EnginePoolRegistry>().Find(services.GetRequiredService<ModelCatalog>().Resolve("tiny-cnn", "5"));
        Assert.NotNull(pool);
        Assert.Equal(1, pool.Traffic.Snapshot().Predictions);
        Assert.Equal(ModelLoadState.Loaded, pool.ColdStart.State);

        // A redelivered step after the chain finished changes nothing.
        var before = (await flow.Storage.Chains.GetBlobClient($"{started.Id}/state.json").GetPropertiesAsync()).Value.ETag;
        await chain.RunStepAsync(new ChainStep(started.Id, 1), CancellationToken.None);
        await RunStepsAsync(chain);
        Assert.Equal(before, (await flow.Storage.Chains.GetBlobClient($"{started.Id}/state.json").GetPropertiesAsync()).Value.ETag);
    }

    [Fact]
    public async Task Chain_DuplicateStepMessages_ProduceOneResult()
    {
        await using var services = TestServices.Create(SlicedSettings());
        var chain = services.GetRequiredService<SliceChain>();
        var started = await chain.StartAsync(new NamedImage("x", Images.Solid(8, 8, SKColors.Red)), "tiny-cnn", "5", topK: 1, CancellationToken.None);

        // Step 0 delivered three times (the queued message plus two redeliveries).
        await chain.RunStepAsync(new ChainStep(started.Id, 0), CancellationToken.None);
        await chain.RunStepAsync(new ChainStep(started.Id, 0), CancellationToken.None);
        await RunStepsAsync(chain);

        var done = await chain.GetAsync(started.Id, CancellationToken.None);
        Assert.Equal("finished", done!.Status);
        Assert.Equal("red", done.Top!.Single().Label);
    }

    [Fact]
    public async Task Chain_OverHttpOnServe_Accepts202ThenAnswersWhenFinished()
    {
        await using var server = await RunningServer.StartAsync(SlicedSettings());
        using var content = new ByteArrayContent(Images.Solid(8, 8, SKColors.Blue));
        content.Headers.ContentType = new MediaTypeHeaderValue("image/png");

        using var accepted = await server.Client.PostAsync("/api/chains?version=5&top=2", content);
        Assert.Equal(HttpStatusCode.Accepted, accepted.StatusCode);
        var location = accepted.Headers.Location!.ToString();
        Assert.StartsWith("/api/chains/", location);

        var answer = await Poll.UntilAsync(async () =>
        {
            using var poll = await server.Client.GetAsync(location);
            if (poll.StatusCode == HttpStatusCode.Accepted)
                return null;
            Assert.Equal(HttpStatusCode.OK, poll.StatusCode);
            return JsonDocument.Parse(await poll.Content.ReadAsStringAsync());
        }, TimeSpan.FromSeconds(60), "the chain to finish");

        Assert.Equal("finished", answer.RootElement.GetProperty("status").GetString());
        Assert.Equal("blue", answer.RootElement.GetProperty("top")[0].GetProperty("label").GetString());
        Assert.Equal(2, answer.RootElement.GetProperty("top").GetArrayLength());
    }

    [Fact]
    public async Task Chain_StepFailsEveryTry_ConcludingItMarksTheChainFailedWithTheReason()
    {
        await using var services = TestServices.Create(SlicedSettings());
        var chain = services.GetRequiredService<SliceChain>();
        var started = await chain.StartAsync(new NamedImage("x", Images.Solid(8, 8, SKColors.Red)), "tiny-cnn", "5", topK: 1, CancellationToken.None);
        await QueueDrain.LoseAsync(flow.Storage.Queue(FunctionApp.Storage.StorageOptions.SliceStepsQueue));

        // The step's input tensor is gone: every try fails the same way, and the host parks the message as poison.
        await flow.Storage.Chains.DeleteBlobAsync($"{started.Id}/tensors/{ModelPackage.Open(Path.Combine(SlicedSettings()["Models:Root"]!, "tiny-cnn", "5")).Manifest.InputTensor}");
        await Assert.ThrowsAnyAsync<Azure.RequestFailedException>(() => chain.RunStepAsync(new ChainStep(started.Id, 0), CancellationToken.None));
        await chain.ConcludeStepAsync(new ChainStep(started.Id, 0), 5, CancellationToken.None);

        var state = await chain.GetAsync(started.Id, CancellationToken.None);
        Assert.Equal("failed", state!.Status);
        Assert.StartsWith("Step 0 failed 5 times; the last error: storage answered 404", state.Error);
    }

    [Fact]
    public async Task Chain_UnslicedModelOrUnknownChain_AreClientErrors()
    {
        await using var server = await RunningServer.StartAsync(SlicedSettings());
        using var content = new ByteArrayContent(Images.Solid(8, 8, SKColors.Blue));
        content.Headers.ContentType = new MediaTypeHeaderValue("image/png");

        using var unsliced = await server.Client.PostAsync("/api/chains?version=1", content);
        using var unknown = await server.Client.GetAsync("/api/chains/0123456789abcdef");

        Assert.Equal(HttpStatusCode.BadRequest, unsliced.StatusCode);
        Assert.Contains("is not sliced", await unsliced.Content.ReadAsStringAsync());
        Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);
    }

    private Task<int> RunStepsAsync(SliceChain chain) =>
        QueueDrain.RunAsync(flow.Storage.Queue(FunctionApp.Storage.StorageOptions.SliceStepsQueue), m => chain.RunStepAsync(FunctionApp.Functions.TriggerMessages.Parse<ChainStep>(m), CancellationToken.None));
}

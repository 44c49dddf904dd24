using FunctionApp.Hosting;
using FunctionApp.Tests.Support;
using Microsoft.Azure.WebJobs.Host;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using SkiaSharp;

namespace FunctionApp.Tests.Hosting;

/// <summary><c>serve</c>'s triggers on the WebJobs engine: configured by host.json, and outliving storage outages.</summary>
[Trait("Category", "EndToEnd")]
public class TriggerEngineTests
{
    [Fact]
    public async Task Serve_EmptyAccount_ImageDropIsClassifiedByTheEngine()
    {
        await using var serve = await ServeOnEmptyAccount.StartAsync();
        await serve.Storage.Images.GetBlobClient("a.png").UploadAsync(new BinaryData(Images.Solid(8, 8, SKColors.Red)));

        var record = await ServeOnEmptyAccount.WaitForJsonAsync(serve.Storage.Predictions, "a.png.json");

        Assert.Equal("red", record.GetProperty("top")[0].GetProperty("label").GetString());
    }

    [Fact]
    public async Task Serve_Engine_TakesItsTriesPollingAndBatchSizesFromHostJson()
    {
        await using var serve = await ServeOnEmptyAccount.StartAsync();
        var engine = await Poll.UntilAsync(() => Task.FromResult(serve.Server.Services.GetServices<IHostedService>().OfType<TriggerEngine>().Single().Current), TimeSpan.FromSeconds(30), "the engine to start");

        var queues = engine.Services.GetRequiredService<IOptions<QueuesOptions>>().Value;
        var blobs = engine.Services.GetRequiredService<IOptions<BlobsOptions>>().Value;

        Assert.Equal((TimeSpan.FromSeconds(2), 5, 2, 1), (queues.MaxPollingInterval, queues.MaxDequeueCount, queues.BatchSize, queues.NewBatchThreshold));
        Assert.Equal(TimeSpan.FromSeconds(5), queues.VisibilityTimeout);
        Assert.Equal((5, 8), (blobs.PoisonBlobThreshold, blobs.MaxDegreeOfParallelism));
    }

    [Fact]
    public async Task Serve_StorageDownLongerThanTheTolerance_KeepsServingHttpAndTheTriggersComeBack()
    {
        await using var serve = await ServeOnEmptyAccount.StartAsync(s => s["Storage:OutageTolerance"] = "00:00:02");
        await serve.Storage.Images.GetBlobClient("before.png").UploadAsync(new BinaryData(Images.Solid(8, 8, SKColors.Red)));
        await ServeOnEmptyAccount.WaitForJsonAsync(serve.Storage.Predictions, "before.png.json");

        await serve.Azurite.StopAsync();
        await Poll.UntilAsync(() => Task.FromResult(serve.Logs.Entries.Any(e => e.Message.StartsWith("The blob and queue triggers stopped", StringComparison.Ordinal))), TimeSpan.FromSeconds(90), "the triggers to give up on storage");
        using (var live = await serve.Server.Client.GetAsync("/api/health/live"))
            Assert.True(live.IsSuccessStatusCode, "HTTP is served while storage is down");
        await serve.Azurite.StartAsync();
        await serve.Storage.Images.GetBlobClient("after.png").UploadAsync(new BinaryData(Images.Solid(8, 8, SKColors.Blue)));

        // The sweep is off: only restarted triggers can answer it.
        var after = await ServeOnEmptyAccount.WaitForJsonAsync(serve.Storage.Predictions, "after.png.json", seconds: 90);

        Assert.Equal("blue", after.GetProperty("top")[0].GetProperty("label").GetString());
    }
}

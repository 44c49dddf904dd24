using System.Text.Json;
using FunctionApp.Tests.Support;
using SkiaSharp;

namespace FunctionApp.Tests.Contracts;

/// <summary>Storage down for a minute in the middle of the work, then back: nothing lost, nothing doubled, no restart.</summary>
[Trait("Category", "EndToEnd")]
public class OutageContractTests
{
    [Fact]
    public async Task Outage_60Seconds_EveryUploadBeforeDuringAndAfterEndsWithExactlyOneOutcome()
    {
        await using var serve = await ServeOnEmptyAccount.StartAsync(s => (s["Storage:SweepInterval"], s["Storage:SweepGrace"], s["Batch:ChunkSize"]) = ("00:00:02", "00:00:05", "8"));
        var storage = serve.Storage;
        for (int i = 0; i < 10; i++)
            await storage.Images.GetBlobClient($"before/{i}.png").UploadAsync(new BinaryData(Images.Solid(8, 8, SKColors.Red)));
        await storage.Batches.GetBlobClient("before.zip").UploadAsync(new BinaryData(BatchContractTests.Archive(60)));
        await storage.ChainImages.GetBlobClient("before.png").UploadAsync(new BinaryData(Images.Solid(8, 8, SKColors.Red)));

        // Down mid-stream: some of that work is done, some in flight, some not started.
        await Task.Delay(1500);
        await serve.Azurite.StopAsync();
        var during = Task.Run(async () =>
        {
            // A client uploading during the outage retries until storage takes it.
            for (int i = 0; i < 10; i++)
                await Poll.UntilAsync(async () => await TryUploadAsync(storage.Images.GetBlobClient($"during/{i}.png"), Images.Solid(8, 8, SKColors.Blue)), TimeSpan.FromMinutes(3), "an upload during the outage to land");
        });
        await Task.Delay(TimeSpan.FromSeconds(60));
        await serve.Azurite.StartAsync();
        await during;
        for (int i = 0; i < 10; i++)
            await storage.Images.GetBlobClient($"after/{i}.png").UploadAsync(new BinaryData(Images.Solid(8, 8, SKColors.Blue)));
        await storage.Batches.GetBlobClient("after.json").UploadAsync(BinaryData.FromString("""{"images": ["after/0.png", "after/1.png"]}"""));

        var expected = Enumerable.Range(0, 10).SelectMany(i => new[] { $"after/{i}.png.json", $"before/{i}.png.json", $"during/{i}.png.json" }).Order(StringComparer.Ordinal).ToList();
        await Poll.UntilAsync(async () => (await ServeOnEmptyAccount.NamesAsync(storage.Predictions)).SequenceEqual(expected), TimeSpan.FromMinutes(3), "an outcome for every image");
        var before = await ServeOnEmptyAccount.WaitForJsonAsync(storage.BatchResults, "before.zip/progress.json", j => j.GetProperty("state").GetString() == "finished", seconds: 120);
        var after = await ServeOnEmptyAccount.WaitForJsonAsync(storage.BatchResults, "after.json/progress.json", j => j.GetProperty("state").GetString() == "finished", seconds: 120);
        var chain = await ServeOnEmptyAccount.WaitForJsonAsync(storage.ChainResults, "before.png.json", seconds: 120);

        foreach (var name in expected)
        {
            var record = JsonDocument.Parse((await storage.Predictions.GetBlobClient(name).DownloadContentAsync()).Value.Content.ToString()).RootElement;
            Assert.Equal("ok", record.GetProperty("status").GetString());
        }

        var lines = (await storage.BatchResults.GetBlobClient("before.zip/results.jsonl").DownloadContentAsync()).Value.Content.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(Enumerable.Range(0, 60), lines.Select(l => JsonDocument.Parse(l).RootElement.GetProperty("index").GetInt32()));
        Assert.Equal((60, 0), (before.GetProperty("done").GetInt32(), before.GetProperty("failed").GetInt32()));
        Assert.Equal(2, after.GetProperty("done").GetInt32());
        Assert.Equal("failed", chain.GetProperty("status").GetString()); // the default model is not sliced: a chain's clear failure is its outcome
        Assert.Empty(await ServeOnEmptyAccount.NamesAsync(storage.Failed));
        using var live = await serve.Server.Client.GetAsync("/api/health/live");
        Assert.True(live.IsSuccessStatusCode);
    }

    private static async Task<bool> TryUploadAsync(Azure.Storage.Blobs.BlobClient blob, byte[] content)
    {
        try
        {
            await blob.UploadAsync(new BinaryData(content), overwrite: true);
            return true;
        }
        catch (Exception ex) when (ex is Azure.RequestFailedException or AggregateException or HttpRequestException)
        {
            return false;
        }
    }
}

using System.IO.Compression;
using System.Text.Json;
using FunctionApp.Tests.Support;
using SkiaSharp;

namespace FunctionApp.Tests.Hosting;

/// <summary><c>serve</c> with a storage connection: files dropped into Azurite are processed with no Functions host.</summary>
public class ServeBlobWatcherTests(BlobFlow flow) : IClassFixture<BlobFlow>
{
    [Fact]
    public async Task Serve_DroppedImageAndArchive_AreProcessedByTheWatcher()
    {
        await using var server = await RunningServer.StartAsync(flow.Settings(s => s["Storage:PollInterval"] = "00:00:00.200"));
        await flow.Storage.Images.GetBlobClient("dropped/by-user.png").UploadAsync(new BinaryData(Images.Solid(9, 9, SKColors.Blue)), overwrite: true);
        using var buffer = new MemoryStream();
        using (var zip = new ZipArchive(buffer, ZipArchiveMode.Create, leaveOpen: true))
        {
            for (int i = 0; i < 5; i++)
            {
                using var entry = zip.CreateEntry($"{i}.png").Open();
                entry.Write(Images.Solid(8, 8, SKColors.Red));
            }
        }

        await flow.Storage.Batches.GetBlobClient("watched.zip").UploadAsync(new BinaryData(buffer.ToArray()), overwrite: true);

        var prediction = await WaitForAsync("dropped/by-user.png.json");
        var progress = await WaitForAsync("batches/watched/progress.json", json => json.GetProperty("state").GetString() == "finished");

        Assert.Equal("blue", prediction.GetProperty("top")[0].GetProperty("label").GetString());
        Assert.Equal(5, progress.GetProperty("done").GetInt32());
        Assert.True(await BlobFlow.Exists(flow.Storage.Predictions, "batches/watched/summary.csv"));
    }

    [Fact]
    public async Task Serve_StorageUnreachable_KeepsServingHttp()
    {
        var settings = flow.Settings(s =>
        {
            s["AzureWebJobsStorage"] = "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==;BlobEndpoint=http://127.0.0.1:9/devstoreaccount1;";
            s["Storage:PollInterval"] = "00:00:00.100";
        });
        using var logs = new CapturingLoggerProvider(Microsoft.Extensions.Logging.LogLevel.Error);
        await using var server = await RunningServer.StartAsync(settings, logs);

        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (!logs.Entries.Any(e => e.Category.EndsWith("BlobWatcher", StringComparison.Ordinal)) && DateTime.UtcNow < deadline)
            await Task.Delay(100);
        using var response = await server.Client.GetAsync("/api/health/live");

        Assert.Contains(logs.Entries, e => e.Message.Contains("Scanning the blob containers failed", StringComparison.Ordinal));
        Assert.Equal(System.Net.HttpStatusCode.OK, response.StatusCode);
    }

    private async Task<JsonElement> WaitForAsync(string name, Func<JsonElement, bool>? done = null)
    {
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (DateTime.UtcNow < deadline)
        {
            if (await BlobFlow.Exists(flow.Storage.Predictions, name))
            {
                var json = JsonDocument.Parse(await BlobFlow.ReadText(flow.Storage.Predictions, name)).RootElement;
                if (done is null || done(json))
                    return json;
            }

            await Task.Delay(100);
        }

        throw new TimeoutException($"predictions/{name} did not appear within 60 seconds.");
    }
}

using System.IO.Compression;
using System.Text.Json;
using FunctionApp.Tests.Support;
using SkiaSharp;

namespace FunctionApp.Tests.Contracts;

/// <summary><c>batches/</c> through the trigger engine on an empty account: one job per batch upload, one outcome per job.</summary>
[Trait("Category", "EndToEnd")]
public class BatchContractTests
{
    internal static byte[] Archive(int images, string prefix = "photo")
    {
        using var buffer = new MemoryStream();
        using (var zip = new ZipArchive(buffer, ZipArchiveMode.Create, leaveOpen: true))
        {
            for (int i = 0; i < images; i++)
            {
                using var entry = zip.CreateEntry($"{prefix}/{i:D4}.png").Open();
                entry.Write(Images.Solid(8, 8, i % 2 == 0 ? SKColors.Red : SKColors.Blue));
            }
        }

        return buffer.ToArray();
    }

    private static bool State(JsonElement json, string state) => json.GetProperty("state").GetString() == state;

    [Fact]
    public async Task Batches_ArchiveManifestGarbageAndOverwrite_EachJobEndsWithOneOutcome()
    {
        await using var serve = await ServeOnEmptyAccount.StartAsync(s => (s["Storage:SweepInterval"], s["Storage:SweepGrace"], s["Batch:ChunkSize"]) = ("00:00:01", "00:00:04", "8"));
        var batches = serve.Storage.Batches;
        await serve.Storage.Images.GetBlobClient("one.png").UploadAsync(new BinaryData(Images.Solid(8, 8, SKColors.Red)));
        await batches.GetBlobClient("job.zip").UploadAsync(new BinaryData(Archive(30)));
        await batches.GetBlobClient("job.json").UploadAsync(BinaryData.FromString("""{"images": ["one.png", "missing.png"]}"""));
        await batches.GetBlobClient("garbage.zip").UploadAsync(BinaryData.FromString("not an archive"));

        var zip = await ServeOnEmptyAccount.WaitForJsonAsync(serve.Storage.BatchResults, "job.zip/progress.json", j => State(j, "finished"));
        var json = await ServeOnEmptyAccount.WaitForJsonAsync(serve.Storage.BatchResults, "job.json/progress.json", j => State(j, "finished"));
        var garbage = await ServeOnEmptyAccount.WaitForJsonAsync(serve.Storage.BatchResults, "garbage.zip/progress.json", j => State(j, "failed"));
        Assert.Equal((30, 30, 0), (zip.GetProperty("total").GetInt32(), zip.GetProperty("done").GetInt32(), zip.GetProperty("failed").GetInt32()));
        Assert.Equal((2, 1), (json.GetProperty("done").GetInt32(), json.GetProperty("failed").GetInt32()));
        Assert.Contains("not a zip file", garbage.GetProperty("error").GetString());

        // A new upload under the job's name is a new job that replaces the old one's outcome.
        await batches.GetBlobClient("job.zip").UploadAsync(new BinaryData(Archive(5, "second")), overwrite: true);
        var again = await ServeOnEmptyAccount.WaitForJsonAsync(serve.Storage.BatchResults, "job.zip/progress.json", j => State(j, "finished") && j.GetProperty("total").GetInt32() == 5);
        var lines = (await serve.Storage.BatchResults.GetBlobClient("job.zip/results.jsonl").DownloadContentAsync()).Value.Content.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);

        Assert.Equal(5, lines.Length);
        Assert.All(lines, l => Assert.Contains("\"entry\":\"second/", l, StringComparison.Ordinal));
        Assert.Equal(
            ["garbage.zip/progress.json", "job.json/progress.json", "job.json/results.jsonl", "job.json/summary.csv", "job.zip/progress.json", "job.zip/results.jsonl", "job.zip/summary.csv"],
            await ServeOnEmptyAccount.NamesAsync(serve.Storage.BatchResults));
        Assert.Equal(["one.png.json"], await ServeOnEmptyAccount.NamesAsync(serve.Storage.Predictions));

        // The same progress over HTTP: 200 once ended, 404 for no such job, 400 without a job.
        using var finished = await serve.Server.Client.GetAsync("/api/batches?job=job.zip");
        using var unknown = await serve.Server.Client.GetAsync("/api/batches?job=nothing.zip");
        using var unnamed = await serve.Server.Client.GetAsync("/api/batches");
        Assert.Equal(System.Net.HttpStatusCode.OK, finished.StatusCode);
        var body = JsonDocument.Parse(await finished.Content.ReadAsStringAsync()).RootElement;
        Assert.Equal((again.GetProperty("source").GetProperty("eTag").GetString(), 5), (body.GetProperty("source").GetProperty("eTag").GetString(), body.GetProperty("done").GetInt32()));
        Assert.Equal((System.Net.HttpStatusCode.NotFound, System.Net.HttpStatusCode.BadRequest), (unknown.StatusCode, unnamed.StatusCode));
    }

    [Fact]
    public async Task Batch_FailsEveryTry_EndsAsAFailedJobWithTheLastError()
    {
        await using var serve = await ServeOnEmptyAccount.StartAsync(s => s["Models:Default"] = "broken");
        await serve.Storage.Batches.GetBlobClient("doomed.zip").UploadAsync(new BinaryData(Archive(3)));

        var progress = await ServeOnEmptyAccount.WaitForJsonAsync(serve.Storage.BatchResults, "doomed.zip/progress.json");

        Assert.Equal("failed", progress.GetProperty("state").GetString());
        Assert.Equal("Processing failed 5 times; the last error: model 'broken' version '1' could not be loaded.", progress.GetProperty("error").GetString());
        Assert.Equal(["doomed.zip/progress.json"], await ServeOnEmptyAccount.NamesAsync(serve.Storage.BatchResults));
    }

    [Fact]
    public async Task Batch_DeliveredTwice_TheSecondDeliveryStartsNothing()
    {
        await using var serve = await ServeOnEmptyAccount.StartAsync();
        var upload = (await serve.Storage.Batches.GetBlobClient("once.zip").UploadAsync(new BinaryData(Archive(4)))).Value;
        await ServeOnEmptyAccount.WaitForJsonAsync(serve.Storage.BatchResults, "once.zip/progress.json", j => State(j, "finished"));
        var results = (await serve.Storage.BatchResults.GetBlobClient("once.zip/results.jsonl").GetPropertiesAsync()).Value.ETag;

        await TriggerEngineQueue.RedeliverAsync(serve, "ProcessBatch", "batches", "once.zip", upload.ETag.ToString());
        await TriggerEngineQueue.WaitUntilHandledAsync(serve);
        await Poll.UntilAsync(() => Task.FromResult(serve.Logs.Entries.Any(e => e.Message.StartsWith("Batch job once.zip for ETag", StringComparison.Ordinal))), TimeSpan.FromSeconds(30), "the redelivered trigger to run");

        Assert.Equal(results, (await serve.Storage.BatchResults.GetBlobClient("once.zip/results.jsonl").GetPropertiesAsync()).Value.ETag);
        Assert.Equal(0, (await serve.Storage.Queue("batch-chunks").GetPropertiesAsync()).Value.ApproximateMessagesCount);
    }
}

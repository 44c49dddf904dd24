using System.Diagnostics.Metrics;
using System.IO.Compression;
using System.Text.Json;
using FunctionApp.Batch;
using FunctionApp.Functions;
using FunctionApp.Storage;
using FunctionApp.Telemetry;
using FunctionApp.Tests.Support;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using SkiaSharp;

namespace FunctionApp.Tests.Batch;

/// <summary>Batch jobs against Azurite: a 215-entry archive with bad entries, manifests, resuming, and every limit.</summary>
[Trait("Category", "EndToEnd")]
public class BatchJobProcessorTests(BlobFlow flow) : IClassFixture<BlobFlow>
{
    private static readonly (string Label, SKColor Colour)[] Colours = [("red", SKColors.Red), ("green", new SKColor(0, 255, 0)), ("blue", SKColors.Blue)];

    /// <summary>210 images (colour by index), 3 corrupt JPEGs, a path-traversal entry and a nested archive.</summary>
    private static byte[] Archive(int images = 210)
    {
        using var buffer = new MemoryStream();
        using (var zip = new ZipArchive(buffer, ZipArchiveMode.Create, leaveOpen: true))
        {
            zip.CreateEntry("photos/");
            for (int i = 0; i < images; i++)
                Add(zip, $"photos/{i:D3}.png", Images.Solid(8 + (i % 5), 8, Colours[i % 3].Colour));
            for (int k = 0; k < 3; k++)
                Add(zip, $"bad/corrupt-{k}.jpg", Images.Solid(64, 64, SKColors.Red, SKEncodedImageFormat.Jpeg)[..(120 + k)]);
            Add(zip, "../escape.png", Images.Solid(8, 8, SKColors.Red));
            Add(zip, "nested/inner.zip", "PK\u0003\u0004 not really"u8.ToArray());
        }

        return buffer.ToArray();
    }

    private static void Add(ZipArchive zip, string name, byte[] data, CompressionLevel level = CompressionLevel.Fastest)
    {
        using var stream = zip.CreateEntry(name, level).Open();
        stream.Write(data);
    }

    private static async Task<JsonElement> Progress(BlobFlow flow, string job) =>
        JsonDocument.Parse(await BlobFlow.ReadText(flow.Storage.BatchResults, $"{job}/progress.json")).RootElement;

    private static List<JsonElement> Lines(string jsonl) =>
        jsonl.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonDocument.Parse(l).RootElement).ToList();

    private async Task<BlobOutcome> RunJobAsync(string name, BatchJobProcessor? batches = null)
    {
        var outcome = await (batches ?? flow.Batches).StartAsync(name, CancellationToken.None);
        await flow.RunChunksAsync(batches);
        return outcome;
    }

    [Fact]
    public async Task Archive_EveryEntryAnswered_BadOnesRecorded_RerunChangesNothing()
    {
        await flow.Storage.Batches.GetBlobClient("shoot-1.zip").UploadAsync(new BinaryData(Archive()), overwrite: true);

        var outcome = await RunJobAsync("shoot-1.zip");

        Assert.Equal(BlobOutcome.Processed, outcome);
        var progress = await Progress(flow, "shoot-1.zip");
        Assert.Equal("finished", progress.GetProperty("state").GetString());
        Assert.Equal((215, 215, 5), (progress.GetProperty("total").GetInt32(), progress.GetProperty("done").GetInt32(), progress.GetProperty("failed").GetInt32()));
        Assert.Equal((7, 7), (progress.GetProperty("chunks").GetInt32(), progress.GetProperty("chunksDone").GetInt32()));
        Assert.Equal(("tiny-cnn", "2"), (progress.GetProperty("model").GetString(), progress.GetProperty("version").GetString()));
        Assert.True(progress.GetProperty("finished").GetDateTimeOffset() >= progress.GetProperty("started").GetDateTimeOffset());
        Assert.True(progress.GetProperty("imagesPerSecond").GetDouble() > 0);

        var lines = Lines(await BlobFlow.ReadText(flow.Storage.BatchResults, "shoot-1.zip/results.jsonl"));
        Assert.Equal(Enumerable.Range(0, 215), lines.Select(l => l.GetProperty("index").GetInt32()));
        foreach (var line in lines.Where(l => l.GetProperty("entry").GetString()!.StartsWith("photos/", StringComparison.Ordinal)))
        {
            int i = int.Parse(Path.GetFileNameWithoutExtension(line.GetProperty("entry").GetString())!, System.Globalization.CultureInfo.InvariantCulture);
            Assert.Equal("ok", line.GetProperty("status").GetString());
            Assert.Equal(Colours[i % 3].Label, line.GetProperty("top")[0].GetProperty("label").GetString());
        }

        var failed = lines.Where(l => l.GetProperty("status").GetString() == "failed").ToDictionary(l => l.GetProperty("entry").GetString()!, l => l.GetProperty("errorKind").GetString());
        Assert.Equal(5, failed.Count);
        Assert.Equal("undecodable", failed["bad/corrupt-0.jpg"]);
        Assert.Equal("rejected", failed["../escape.png"]);
        Assert.Equal("rejected", failed["nested/inner.zip"]);

        var csv = (await BlobFlow.ReadText(flow.Storage.BatchResults, "shoot-1.zip/summary.csv")).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal("index,entry,status,label,score,error", csv[0]);
        Assert.Equal(216, csv.Length);
        Assert.StartsWith("0,photos/000.png,ok,red,", csv[1]);
        Assert.Contains(csv, row => row.StartsWith("212,", StringComparison.Ordinal) && row.Contains(",failed,", StringComparison.Ordinal));

        Assert.Empty(await ListAsync("shoot-1.zip/parts/"));
        var resultsETag = (await flow.Storage.BatchResults.GetBlobClient("shoot-1.zip/results.jsonl").GetPropertiesAsync()).Value.ETag;

        Assert.Equal(BlobOutcome.AlreadyProcessed, await RunJobAsync("shoot-1.zip"));
        Assert.Equal(resultsETag, (await flow.Storage.BatchResults.GetBlobClient("shoot-1.zip/results.jsonl").GetPropertiesAsync()).Value.ETag);
    }

    [Fact]
    public async Task Archive_ChunksLostMidJob_SweepQueuesThemAgain_NoDuplicatesOrGaps()
    {
        var clock = new Microsoft.Extensions.Time.Testing.FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var services = flow.CreateServices(s => s["Storage:SweepGrace"] = "00:00:30", s => s.AddSingleton<TimeProvider>(clock));
        var batches = services.GetRequiredService<BatchJobProcessor>();
        await flow.Storage.Batches.GetBlobClient("resume.zip").UploadAsync(new BinaryData(Archive(100)), overwrite: true);
        Assert.Equal(BlobOutcome.Processed, await batches.StartAsync("resume.zip", CancellationToken.None));

        // Two chunks are scored; then the instance dies holding the other messages (they would come back only after
        // the queue's visibility timeout).
        var queue = flow.Storage.Queue(FunctionApp.Storage.StorageOptions.BatchChunksQueue);
        await QueueDrain.RunAsync(queue, m => batches.RunChunkAsync(FunctionApp.Functions.TriggerMessages.Parse<ChunkWork>(m), CancellationToken.None), limit: 2);
        var lost = await QueueDrain.LoseAsync(queue);
        Assert.Equal(2, lost.Count);
        var running = await Progress(flow, "resume.zip");
        Assert.Equal(("running", 2, 64), (running.GetProperty("state").GetString(), running.GetProperty("chunksDone").GetInt32(), running.GetProperty("done").GetInt32()));
        int scored = int.Parse(Path.GetFileNameWithoutExtension((await ListAsync("resume.zip/parts/"))[0]), System.Globalization.CultureInfo.InvariantCulture);
        await MarkFirstLineAsync("resume.zip", scored);

        // Within the grace period a running job is left alone; past it, its missing chunks are queued again.
        Assert.False(await batches.SweepAsync("resume.zip", clock.GetUtcNow().AddMinutes(-1), TimeSpan.FromSeconds(30), CancellationToken.None));
        clock.Advance(TimeSpan.FromMinutes(1));
        var swept = await batches.SweepAsync("resume.zip", clock.GetUtcNow().AddMinutes(-2), TimeSpan.FromSeconds(30), CancellationToken.None);
        await flow.RunChunksAsync(batches);

        // A lost message that comes back after all changes nothing.
        await batches.RunChunkAsync(FunctionApp.Functions.TriggerMessages.Parse<ChunkWork>(lost[0]), CancellationToken.None);
        Assert.True(swept);
        var resumed = Lines(await BlobFlow.ReadText(flow.Storage.BatchResults, "resume.zip/results.jsonl"));
        Assert.Equal(Enumerable.Range(0, 105), resumed.Select(l => l.GetProperty("index").GetInt32()));
        Assert.Equal("from-part", resumed[scored * 32].GetProperty("top")[0].GetProperty("label").GetString());
        var progress = await Progress(flow, "resume.zip");
        Assert.Equal(("finished", 105, 4), (progress.GetProperty("state").GetString(), progress.GetProperty("done").GetInt32(), progress.GetProperty("chunksDone").GetInt32()));
    }

    [Fact]
    public async Task Chunk_DeliveredTwiceAndRacedForCompletion_CountsOnceAndFinishesOnce()
    {
        await using var services = flow.CreateServices(s => s["Batch:ChunkSize"] = "8");
        var batches = services.GetRequiredService<BatchJobProcessor>();
        var meters = services.GetRequiredService<IMeterFactory>();
        using var jobs = new MetricCollector<long>(meters, InferenceMetrics.MeterName, "inference.batch.jobs");
        await flow.Storage.Batches.GetBlobClient("twice.zip").UploadAsync(new BinaryData(Archive(10)), overwrite: true);
        await batches.StartAsync("twice.zip", CancellationToken.None);
        var messages = await QueueDrain.LoseAsync(flow.Storage.Queue(FunctionApp.Storage.StorageOptions.BatchChunksQueue));
        Assert.Equal(2, messages.Count);
        var first = FunctionApp.Functions.TriggerMessages.Parse<ChunkWork>(messages[0]);
        var last = FunctionApp.Functions.TriggerMessages.Parse<ChunkWork>(messages[1]);

        await batches.RunChunkAsync(first, CancellationToken.None);
        await batches.RunChunkAsync(first, CancellationToken.None);
        await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => Task.Run(() => batches.RunChunkAsync(last, CancellationToken.None))));

        var progress = await Progress(flow, "twice.zip");
        Assert.Equal(("finished", 15, 2), (progress.GetProperty("state").GetString(), progress.GetProperty("done").GetInt32(), progress.GetProperty("chunksDone").GetInt32()));
        Assert.Equal(Enumerable.Range(0, 15), Lines(await BlobFlow.ReadText(flow.Storage.BatchResults, "twice.zip/results.jsonl")).Select(l => l.GetProperty("index").GetInt32()));
        Assert.Equal("finished", Assert.Single(jobs.GetMeasurementSnapshot()).Tags["status"]);
    }

    [Fact]
    public async Task Archive_ZipAndJsonOfTheSameName_AreTwoJobs()
    {
        await flow.Storage.Images.GetBlobClient("twin/0.png").UploadAsync(new BinaryData(Images.Solid(8, 8, SKColors.Red)), overwrite: true);
        await flow.Storage.Batches.GetBlobClient("twin.zip").UploadAsync(new BinaryData(Archive(3)), overwrite: true);
        await flow.Storage.Batches.GetBlobClient("twin.json").UploadAsync(BinaryData.FromString("""{"images": ["twin/0.png"]}"""), overwrite: true);

        await RunJobAsync("twin.zip");
        await RunJobAsync("twin.json");

        Assert.Equal(8, (await Progress(flow, "twin.zip")).GetProperty("total").GetInt32());
        Assert.Equal(1, (await Progress(flow, "twin.json")).GetProperty("total").GetInt32());
        Assert.Equal(8, Lines(await BlobFlow.ReadText(flow.Storage.BatchResults, "twin.zip/results.jsonl")).Count);
    }

    [Fact]
    public async Task Archive_Overwritten_TheNewUploadsJobReplacesTheOld()
    {
        var blob = flow.Storage.Batches.GetBlobClient("again.zip");
        await blob.UploadAsync(new BinaryData(Archive(10)), overwrite: true);
        await RunJobAsync("again.zip");
        await blob.UploadAsync(new BinaryData(Archive(4)), overwrite: true);

        Assert.Equal(BlobOutcome.Processed, await RunJobAsync("again.zip"));

        var progress = await Progress(flow, "again.zip");
        Assert.Equal((9, 9), (progress.GetProperty("total").GetInt32(), progress.GetProperty("done").GetInt32()));
        Assert.Equal((await blob.GetPropertiesAsync()).Value.ETag.ToString().Trim('"'), progress.GetProperty("source").GetProperty("eTag").GetString());
        Assert.Equal(9, Lines(await BlobFlow.ReadText(flow.Storage.BatchResults, "again.zip/results.jsonl")).Count);
    }

    [Fact]
    public async Task Manifest_NamesBlobsInImages_MissingOnesAreRecorded()
    {
        for (int i = 0; i < 4; i++)
            await flow.Storage.Images.GetBlobClient($"listed/{i}.png").UploadAsync(new BinaryData(Images.Solid(8, 8, Colours[i % 3].Colour)), overwrite: true);
        var manifest = """{"images": ["listed/0.png", "listed/1.png", "listed/ghost.png", "listed/2.png", "listed/3.png"]}""";
        await flow.Storage.Batches.GetBlobClient("lists/monday.json").UploadAsync(BinaryData.FromString(manifest), overwrite: true);

        Assert.Equal(BlobOutcome.Processed, await RunJobAsync("lists/monday.json"));

        var lines = Lines(await BlobFlow.ReadText(flow.Storage.BatchResults, "lists/monday.json/results.jsonl"));
        Assert.Equal(["red", "green", null, "blue", "red"], lines.Select(l => l.TryGetProperty("top", out var top) ? top[0].GetProperty("label").GetString() : null));
        Assert.Contains("does not exist", lines[2].GetProperty("error").GetString());
        var progress = await Progress(flow, "lists/monday.json");
        Assert.Equal((5, 1), (progress.GetProperty("done").GetInt32(), progress.GetProperty("failed").GetInt32()));
    }

    [Fact]
    public async Task Archive_Processed_ReportsProgressPerChunkAndTheJobsEnd()
    {
        await using var services = flow.CreateServices(s => s["Batch:ChunkSize"] = "16");
        var meters = services.GetRequiredService<IMeterFactory>();
        using var images = new MetricCollector<long>(meters, InferenceMetrics.MeterName, "inference.batch.images");
        using var jobs = new MetricCollector<long>(meters, InferenceMetrics.MeterName, "inference.batch.jobs");
        await flow.Storage.Batches.GetBlobClient("metrics.zip").UploadAsync(new BinaryData(Archive(40)), overwrite: true);
        var batches = services.GetRequiredService<BatchJobProcessor>();

        await RunJobAsync("metrics.zip", batches);
        await RunJobAsync("metrics.zip", batches);

        // 45 entries in chunks of 16, the five bad ones last: three reports of successes, one of failures;
        // the rerun finds the job done and reports nothing.
        var progress = images.GetMeasurementSnapshot();
        var succeeded = progress.Where(m => (string?)m.Tags["outcome"] == "success").Select(m => m.Value).Order().ToList();
        var failed = progress.Where(m => (string?)m.Tags["outcome"] == "failure").Select(m => m.Value).ToList();
        Assert.Equal([8, 16, 16], succeeded);
        Assert.Equal([5], failed);
        Assert.All(progress, m => Assert.Equal(("tiny-cnn", "2"), ((string?)m.Tags["model"], (string?)m.Tags["model.version"])));
        var ended = Assert.Single(jobs.GetMeasurementSnapshot());
        Assert.Equal("finished", ended.Tags["status"]);
    }

    [Fact]
    public async Task Batch_Rejected_CountsAFailedJobAndNoImages()
    {
        await using var services = flow.CreateServices();
        var meters = services.GetRequiredService<IMeterFactory>();
        using var images = new MetricCollector<long>(meters, InferenceMetrics.MeterName, "inference.batch.images");
        using var jobs = new MetricCollector<long>(meters, InferenceMetrics.MeterName, "inference.batch.jobs");
        await flow.Storage.Batches.GetBlobClient("rejected-metrics.txt").UploadAsync(BinaryData.FromString("hello"), overwrite: true);

        await services.GetRequiredService<BatchJobProcessor>().StartAsync("rejected-metrics.txt", CancellationToken.None);

        Assert.Equal("failed", Assert.Single(jobs.GetMeasurementSnapshot()).Tags["status"]);
        Assert.Empty(images.GetMeasurementSnapshot());
    }

    [Fact]
    public async Task Archive_TooManyEntries_FailsTheJobWithTheLimit()
    {
        await using var services = flow.CreateServices(s => s["Batch:MaxArchiveEntries"] = "50");
        await flow.Storage.Batches.GetBlobClient("too-many.zip").UploadAsync(new BinaryData(Archive(60)), overwrite: true);

        var outcome = await services.GetRequiredService<BatchJobProcessor>().StartAsync("too-many.zip", CancellationToken.None);

        Assert.Equal(BlobOutcome.Failed, outcome);
        var progress = await Progress(flow, "too-many.zip");
        Assert.Equal("failed", progress.GetProperty("state").GetString());
        Assert.Contains("Batch:MaxArchiveEntries", progress.GetProperty("error").GetString());
    }

    [Fact]
    public async Task Archive_TooLargeUncompressed_FailsTheJob()
    {
        await using var services = flow.CreateServices(s => s["Batch:MaxArchiveUncompressedBytes"] = "1000");
        await flow.Storage.Batches.GetBlobClient("too-big.zip").UploadAsync(new BinaryData(Archive(20)), overwrite: true);

        Assert.Equal(BlobOutcome.Failed, await services.GetRequiredService<BatchJobProcessor>().StartAsync("too-big.zip", CancellationToken.None));
        Assert.Contains("Batch:MaxArchiveUncompressedBytes", (await Progress(flow, "too-big.zip")).GetProperty("error").GetString());
    }

    [Fact]
    public async Task Archive_HighlyCompressedEntry_IsRejectedAsABomb()
    {
        using var buffer = new MemoryStream();
        using (var zip = new ZipArchive(buffer, ZipArchiveMode.Create, leaveOpen: true))
        {
            Add(zip, "ok.png", Images.Solid(8, 8, SKColors.Red));
            Add(zip, "zeros.png", new byte[150_000], CompressionLevel.SmallestSize);
        }

        await flow.Storage.Batches.GetBlobClient("bomb.zip").UploadAsync(new BinaryData(buffer.ToArray()), overwrite: true);

        await RunJobAsync("bomb.zip");

        var lines = Lines(await BlobFlow.ReadText(flow.Storage.BatchResults, "bomb.zip/results.jsonl"));
        Assert.Equal("ok", lines[0].GetProperty("status").GetString());
        Assert.Equal("rejected", lines[1].GetProperty("errorKind").GetString());
        Assert.Contains("Batch:MaxCompressionRatio", lines[1].GetProperty("error").GetString());
    }

    [Fact]
    public async Task Archive_Zip64AndStoredEntries_AreReadByRange()
    {
        using var buffer = new MemoryStream();
        using (var zip = new ZipArchive(buffer, ZipArchiveMode.Create, leaveOpen: true))
        {
            Add(zip, "stored.png", Images.Solid(8, 8, SKColors.Blue), CompressionLevel.NoCompression);
            Add(zip, "deflated.png", Images.Solid(8, 8, SKColors.Red), CompressionLevel.SmallestSize);
        }

        await flow.Storage.Batches.GetBlobClient("methods.zip").UploadAsync(new BinaryData(buffer.ToArray()), overwrite: true);

        await RunJobAsync("methods.zip");

        var lines = Lines(await BlobFlow.ReadText(flow.Storage.BatchResults, "methods.zip/results.jsonl"));
        Assert.Equal(["blue", "red"], lines.Select(l => l.GetProperty("top")[0].GetProperty("label").GetString()));
    }

    [Theory]
    [InlineData("notes.txt", "hello", "neither a .zip archive nor a .json manifest")]
    [InlineData("garbage.zip", "this is not a zip", "not a zip file")]
    [InlineData("empty.json", "{}", "needs \"images\"")]
    [InlineData("broken.json", "{\"images\": [", "not valid JSON")]
    public async Task Batch_NotAnArchiveOrManifest_FailsTheJobWithAReason(string name, string content, string reason)
    {
        await flow.Storage.Batches.GetBlobClient(name).UploadAsync(BinaryData.FromString(content), overwrite: true);

        Assert.Equal(BlobOutcome.Failed, await flow.Batches.StartAsync(name, CancellationToken.None));

        var progress = await Progress(flow, name);
        Assert.Equal("failed", progress.GetProperty("state").GetString());
        Assert.Contains(reason, progress.GetProperty("error").GetString());
        Assert.Equal(BlobOutcome.AlreadyProcessed, await flow.Batches.StartAsync(name, CancellationToken.None));
    }

    /// <summary>Marks the first line of a written part, to tell later whether results came from that part or were scored again.</summary>
    private async Task MarkFirstLineAsync(string job, int chunk)
    {
        var blob = flow.Storage.BatchResults.GetBlobClient(BatchJobProcessor.PartName(job, chunk));
        var download = (await blob.DownloadContentAsync()).Value;
        var text = download.Content.ToString();
        text = System.Text.RegularExpressions.Regex.Replace(text, "\"label\":\"[a-z]+\"", "\"label\":\"from-part\"", System.Text.RegularExpressions.RegexOptions.None, TimeSpan.FromSeconds(1));
        await blob.UploadAsync(BinaryData.FromString(text), new Azure.Storage.Blobs.Models.BlobUploadOptions { Metadata = download.Details.Metadata });
    }

    private async Task<List<string>> ListAsync(string prefix)
    {
        var names = new List<string>();
        await foreach (var blob in flow.Storage.BatchResults.GetBlobsAsync(Azure.Storage.Blobs.Models.BlobTraits.None, Azure.Storage.Blobs.Models.BlobStates.None, prefix, CancellationToken.None))
            names.Add(blob.Name);
        return names;
    }
}

using System.IO.Compression;
using System.Text.Json;
using System.Diagnostics.Metrics;
using FunctionApp.Batch;
using FunctionApp.Telemetry;
using FunctionApp.Tests.Support;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using SkiaSharp;

namespace FunctionApp.Tests.Batch;

/// <summary>Batch jobs against Azurite: a 215-entry archive with bad entries, manifests, resuming, and every limit.</summary>
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
        JsonDocument.Parse(await BlobFlow.ReadText(flow.Storage.Predictions, $"batches/{job}/progress.json")).RootElement;

    private static List<JsonElement> Lines(string jsonl) =>
        jsonl.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonDocument.Parse(l).RootElement).ToList();

    [Fact]
    public async Task Archive_EveryEntryAnswered_BadOnesRecorded_RerunChangesNothing()
    {
        await flow.Storage.Batches.GetBlobClient("shoot-1.zip").UploadAsync(new BinaryData(Archive()), overwrite: true);

        var outcome = await flow.Batches.ProcessAsync("shoot-1.zip", CancellationToken.None);

        Assert.Equal(BlobOutcome.Processed, outcome);
        var progress = await Progress(flow, "shoot-1");
        Assert.Equal("finished", progress.GetProperty("state").GetString());
        Assert.Equal((215, 215, 5), (progress.GetProperty("total").GetInt32(), progress.GetProperty("done").GetInt32(), progress.GetProperty("failed").GetInt32()));
        Assert.Equal(("tiny-cnn", "2"), (progress.GetProperty("model").GetString(), progress.GetProperty("version").GetString()));
        Assert.True(progress.GetProperty("finished").GetDateTimeOffset() >= progress.GetProperty("started").GetDateTimeOffset());

        var lines = Lines(await BlobFlow.ReadText(flow.Storage.Predictions, "batches/shoot-1/results.jsonl"));
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

        var csv = (await BlobFlow.ReadText(flow.Storage.Predictions, "batches/shoot-1/summary.csv")).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal("index,entry,status,label,score,error", csv[0]);
        Assert.Equal(216, csv.Length);
        Assert.StartsWith("0,photos/000.png,ok,red,", csv[1]);
        Assert.Contains(csv, row => row.StartsWith("212,", StringComparison.Ordinal) && row.Contains(",failed,", StringComparison.Ordinal));

        Assert.Empty(await ListAsync("batches/shoot-1/parts/"));
        var resultsETag = (await flow.Storage.Predictions.GetBlobClient("batches/shoot-1/results.jsonl").GetPropertiesAsync()).Value.ETag;

        Assert.Equal(BlobOutcome.AlreadyProcessed, await flow.Batches.ProcessAsync("shoot-1.zip", CancellationToken.None));
        Assert.Equal(resultsETag, (await flow.Storage.Predictions.GetBlobClient("batches/shoot-1/results.jsonl").GetPropertiesAsync()).Value.ETag);
    }

    [Fact]
    public async Task Archive_JobStoppedPartWay_ResumesWithoutDuplicatesOrGaps()
    {
        var etag = (await flow.Storage.Batches.GetBlobClient("resume.zip").UploadAsync(new BinaryData(Archive(100)), overwrite: true)).Value.ETag.ToString().Trim('"');
        await flow.Batches.ProcessAsync("resume.zip", CancellationToken.None);
        var complete = await BlobFlow.ReadText(flow.Storage.Predictions, "batches/resume/results.jsonl");

        // Put the job back as a crash after two chunks would leave it: two parts written, progress running, no results.
        var lines = complete.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        for (int c = 0; c < 2; c++)
        {
            var part = string.Join(string.Empty, lines.Skip(c * 32).Take(32).Select(l => l + "\n"));
            if (c == 0)
                part = part.Replace("\"entry\":\"photos/000.png\"", "\"entry\":\"photos/000.png\",\"fromResumedPart\":true", StringComparison.Ordinal);
            await flow.Storage.Predictions.GetBlobClient($"batches/resume/parts/{c:D5}.jsonl").UploadAsync(BinaryData.FromString(part), new Azure.Storage.Blobs.Models.BlobUploadOptions
            {
                Metadata = new Dictionary<string, string> { ["sourceetag"] = etag, ["images"] = "32", ["failed"] = "0" },
            });
        }

        var progress = (await BlobFlow.ReadText(flow.Storage.Predictions, "batches/resume/progress.json")).Replace("\"finished\"", "\"running\"", StringComparison.Ordinal);
        await flow.Storage.Predictions.GetBlobClient("batches/resume/progress.json").UploadAsync(BinaryData.FromString(progress), overwrite: true);
        await flow.Storage.Predictions.GetBlobClient("batches/resume/results.jsonl").DeleteAsync();

        var outcome = await flow.Batches.ProcessAsync("resume.zip", CancellationToken.None);

        Assert.Equal(BlobOutcome.Processed, outcome);
        var resumed = Lines(await BlobFlow.ReadText(flow.Storage.Predictions, "batches/resume/results.jsonl"));
        Assert.Equal(Enumerable.Range(0, 105), resumed.Select(l => l.GetProperty("index").GetInt32()));
        Assert.True(resumed[0].GetProperty("fromResumedPart").GetBoolean(), "the first chunk was taken from its part, not recomputed");
        Assert.Equal(lines.Skip(1), resumed.Skip(1).Select(l => l.GetRawText()));
        Assert.Equal("finished", (await Progress(flow, "resume")).GetProperty("state").GetString());
    }

    [Fact]
    public async Task Manifest_NamesBlobsInImages_MissingOnesAreRecorded()
    {
        for (int i = 0; i < 4; i++)
            await flow.Storage.Images.GetBlobClient($"listed/{i}.png").UploadAsync(new BinaryData(Images.Solid(8, 8, Colours[i % 3].Colour)), overwrite: true);
        var manifest = """{"images": ["listed/0.png", "listed/1.png", "listed/ghost.png", "listed/2.png", "listed/3.png"]}""";
        await flow.Storage.Batches.GetBlobClient("lists/monday.json").UploadAsync(BinaryData.FromString(manifest), overwrite: true);

        Assert.Equal(BlobOutcome.Processed, await flow.Batches.ProcessAsync("lists/monday.json", CancellationToken.None));

        var lines = Lines(await BlobFlow.ReadText(flow.Storage.Predictions, "batches/lists/monday/results.jsonl"));
        Assert.Equal(["red", "green", null, "blue", "red"], lines.Select(l => l.TryGetProperty("top", out var top) ? top[0].GetProperty("label").GetString() : null));
        Assert.Contains("does not exist", lines[2].GetProperty("error").GetString());
        var progress = await Progress(flow, "lists/monday");
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

        await services.GetRequiredService<BatchJobProcessor>().ProcessAsync("metrics.zip", CancellationToken.None);
        await services.GetRequiredService<BatchJobProcessor>().ProcessAsync("metrics.zip", CancellationToken.None);

        // 45 entries in chunks of 16, the five bad ones last: three reports of successes, one of failures;
        // the rerun finds the job done and reports nothing.
        var progress = images.GetMeasurementSnapshot();
        var succeeded = progress.Where(m => (string?)m.Tags["outcome"] == "success").Select(m => m.Value).ToList();
        var failed = progress.Where(m => (string?)m.Tags["outcome"] == "failure").Select(m => m.Value).ToList();
        Assert.Equal([16, 16, 8], succeeded);
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

        await services.GetRequiredService<BatchJobProcessor>().ProcessAsync("rejected-metrics.txt", CancellationToken.None);

        Assert.Equal("failed", Assert.Single(jobs.GetMeasurementSnapshot()).Tags["status"]);
        Assert.Empty(images.GetMeasurementSnapshot());
    }

    [Fact]
    public async Task Archive_TooManyEntries_FailsTheJobWithTheLimit()
    {
        await using var services = flow.CreateServices(s => s["Batch:MaxArchiveEntries"] = "50");
        await flow.Storage.Batches.GetBlobClient("too-many.zip").UploadAsync(new BinaryData(Archive(60)), overwrite: true);

        var outcome = await services.GetRequiredService<BatchJobProcessor>().ProcessAsync("too-many.zip", CancellationToken.None);

        Assert.Equal(BlobOutcome.Failed, outcome);
        var progress = await Progress(flow, "too-many");
        Assert.Equal("failed", progress.GetProperty("state").GetString());
        Assert.Contains("Batch:MaxArchiveEntries", progress.GetProperty("error").GetString());
    }

    [Fact]
    public async Task Archive_TooLargeUncompressed_FailsTheJob()
    {
        await using var services = flow.CreateServices(s => s["Batch:MaxArchiveUncompressedBytes"] = "1000");
        await flow.Storage.Batches.GetBlobClient("too-big.zip").UploadAsync(new BinaryData(Archive(20)), overwrite: true);

        Assert.Equal(BlobOutcome.Failed, await services.GetRequiredService<BatchJobProcessor>().ProcessAsync("too-big.zip", CancellationToken.None));
        Assert.Contains("Batch:MaxArchiveUncompressedBytes", (await Progress(flow, "too-big")).GetProperty("error").GetString());
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

        await flow.Batches.ProcessAsync("bomb.zip", CancellationToken.None);

        var lines = Lines(await BlobFlow.ReadText(flow.Storage.Predictions, "batches/bomb/results.jsonl"));
        Assert.Equal("ok", lines[0].GetProperty("status").GetString());
        Assert.Equal("rejected", lines[1].GetProperty("errorKind").GetString());
        Assert.Contains("Batch:MaxCompressionRatio", lines[1].GetProperty("error").GetString());
    }

    [Theory]
    [InlineData("notes.txt", "hello", "neither a .zip archive nor a .json manifest")]
    [InlineData("garbage.zip", "this is not a zip", "archive cannot be read")]
    [InlineData("empty.json", "{}", "needs \"images\"")]
    [InlineData("broken.json", "{\"images\": [", "not valid JSON")]
    public async Task Batch_NotAnArchiveOrManifest_FailsTheJobWithAReason(string name, string content, string reason)
    {
        await flow.Storage.Batches.GetBlobClient(name).UploadAsync(BinaryData.FromString(content), overwrite: true);

        Assert.Equal(BlobOutcome.Failed, await flow.Batches.ProcessAsync(name, CancellationToken.None));

        var progress = await Progress(flow, Path.GetFileNameWithoutExtension(name));
        Assert.Equal("failed", progress.GetProperty("state").GetString());
        Assert.Contains(reason, progress.GetProperty("error").GetString());
        Assert.Equal(BlobOutcome.AlreadyProcessed, await flow.Batches.ProcessAsync(name, CancellationToken.None));
    }

    private async Task<List<string>> ListAsync(string prefix)
    {
        var names = new List<string>();
        await foreach (var blob in flow.Storage.Predictions.GetBlobsAsync(Azure.Storage.Blobs.Models.BlobTraits.None, Azure.Storage.Blobs.Models.BlobStates.None, prefix, CancellationToken.None))
            names.Add(blob.Name);
        return names;
    }
}

using System.Text.Json;
using Azure.Storage.Blobs;
using FunctionApp.Tests.Support;

namespace FunctionApp.Tests.Contracts;

/// <summary>
/// One batch job shared by two <c>serve</c> processes on one account: each scores chunks from the queue, and the job
/// completes exactly once, also when one of them is killed (SIGKILL) with chunks in hand.
/// </summary>
[Trait("Category", "EndToEnd")]
public sealed class ScaleOutContractTests(Xunit.Abstractions.ITestOutputHelper output) : IAsyncLifetime, IDisposable
{
    private const int Entries = 600;
    private const int ChunkSize = 2;
    private const string Job = "shared.zip";
    private readonly Azurite _azurite = new();
    private readonly ModelRoot _models = new();

    public Task InitializeAsync() => _azurite.InitializeAsync();

    public Task DisposeAsync() => _azurite.DisposeAsync();

    public void Dispose()
    {
        _azurite.Dispose();
        _models.Dispose();
    }

    [Fact]
    public async Task TwoProcesses_ShareOneJob_EveryEntryOnceAndPartsFromBoth()
    {
        await using var a = await StartAsync();
        await using var b = await StartAsync();
        var watch = new PartWatch(Results);

        await UploadAsync();
        var progress = await watch.UntilFinishedAsync();

        Assert.Equal(new[] { Instance(a), Instance(b) }.Order(StringComparer.Ordinal), watch.ChunksBy.Keys.Order(StringComparer.Ordinal));
        await AssertCompletedOnceAsync(progress);
        output.WriteLine($"chunks by instance: {string.Join(", ", watch.ChunksBy.Select(p => $"{p.Key}={p.Value}"))}");
    }

    [Fact]
    public async Task TwoProcesses_OneKilledMidJob_TheOtherFinishesItExactlyOnce()
    {
        await using var a = await StartAsync();
        await using var b = await StartAsync();
        var watch = new PartWatch(Results);

        await UploadAsync();
        // Both at work, the job well under way but far from done: then b dies with the chunks it holds.
        await watch.UntilAsync(() => watch.ChunksBy.ContainsKey(Instance(a)) && watch.ChunksBy.ContainsKey(Instance(b)) && watch.Parts >= 20);
        var killed = Instance(b);
        await b.KillAsync();
        var atKill = await ServeOnEmptyAccount.WaitForJsonAsync(Results, $"{Job}/progress.json");
        Assert.Equal("running", atKill.GetProperty("state").GetString());
        Assert.True(atKill.GetProperty("chunksDone").GetInt32() < Entries / ChunkSize, "the job should still have had chunks to do when a process was killed");

        var progress = await watch.UntilFinishedAsync();

        Assert.Contains(killed, watch.ChunksBy.Keys);
        Assert.Contains(Instance(a), watch.ChunksBy.Keys);
        await AssertCompletedOnceAsync(progress);

        // The chunks b held when it died are still hidden on the queue (for the engine's ten minutes): the job was
        // finished by the sweep queueing them again, and when they come back they find it finished.
        var queue = new Azure.Storage.Queues.QueueClient(_azurite.ConnectionString, "batch-chunks");
        Assert.True((await queue.GetPropertiesAsync()).Value.ApproximateMessagesCount > 0, "the killed process should have held chunk messages when it died");
        Assert.Empty((await queue.PeekMessagesAsync(32)).Value);
        output.WriteLine($"chunks by instance: {string.Join(", ", watch.ChunksBy.Select(p => $"{p.Key}={p.Value}"))}");
    }

    private BlobContainerClient Results => new BlobServiceClient(_azurite.ConnectionString).GetBlobContainerClient("batch-results");

    /// <summary>How the app names a process in the parts it writes (no Functions instance id here: machine and process).</summary>
    private static string Instance(ServeProcess serve) => $"{Environment.MachineName}/{serve.Id}";

    private Task<ServeProcess> StartAsync()
    {
        var settings = _models.Settings(maxImageBytes: 200_000);
        settings["AzureWebJobsStorage"] = _azurite.ConnectionString;
        settings["Batch:ChunkSize"] = ChunkSize.ToString(System.Globalization.CultureInfo.InvariantCulture);
        settings["Storage:SweepInterval"] = "00:00:01";
        settings["Storage:SweepGrace"] = "00:00:03";
        return ServeProcess.StartAsync(settings);
    }

    private async Task UploadAsync()
    {
        var batches = new BlobServiceClient(_azurite.ConnectionString).GetBlobContainerClient("batches");
        await Poll.UntilAsync(async () => (await batches.ExistsAsync()).Value, TimeSpan.FromSeconds(60), "serve to create its containers");
        await batches.GetBlobClient(Job).UploadAsync(new BinaryData(BatchContractTests.Archive(Entries)));
    }

    /// <summary>Every entry exactly once, in order; the counts add up; the parts gone, only the job's three outputs left.</summary>
    private async Task AssertCompletedOnceAsync(JsonElement progress)
    {
        var lines = (await Results.GetBlobClient($"{Job}/results.jsonl").DownloadContentAsync()).Value.Content.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        var parsed = lines.Select(l => JsonDocument.Parse(l).RootElement).ToList();
        Assert.Equal(Enumerable.Range(0, Entries), parsed.Select(l => l.GetProperty("index").GetInt32()));
        Assert.Equal(Enumerable.Range(0, Entries).Select(i => $"photo/{i:D4}.png"), parsed.Select(l => l.GetProperty("entry").GetString()));
        Assert.All(parsed, l => Assert.Equal("ok", l.GetProperty("status").GetString()));

        // done counts every entry answered, failed ones included.
        Assert.Equal((Entries, Entries, 0), (progress.GetProperty("total").GetInt32(), progress.GetProperty("done").GetInt32(), progress.GetProperty("failed").GetInt32()));
        Assert.Equal((Entries / ChunkSize, Entries / ChunkSize), (progress.GetProperty("chunks").GetInt32(), progress.GetProperty("chunksDone").GetInt32()));
        var summary = (await Results.GetBlobClient($"{Job}/summary.csv").DownloadContentAsync()).Value.Content.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(Entries + 1, summary.Length);
        Assert.Equal([$"{Job}/progress.json", $"{Job}/results.jsonl", $"{Job}/summary.csv"], await ServeOnEmptyAccount.NamesAsync(Results));
    }

    /// <summary>
    /// Reads each chunk's part while the job runs (the last step removes them) and counts the chunks by the
    /// <c>instance</c> that wrote them.
    /// </summary>
    private sealed class PartWatch(BlobContainerClient results)
    {
        private readonly HashSet<string> _seen = [];

        public Dictionary<string, int> ChunksBy { get; } = [];

        public int Parts => _seen.Count;

        public Task UntilAsync(Func<bool> condition) =>
            Poll.UntilAsync(async () =>
            {
                await ReadNewPartsAsync();
                return condition();
            }, TimeSpan.FromSeconds(90), "both processes to write parts");

        public async Task<JsonElement> UntilFinishedAsync()
        {
            JsonElement? finished = null;
            await Poll.UntilAsync(async () =>
            {
                await ReadNewPartsAsync();
                var blob = results.GetBlobClient($"{Job}/progress.json");
                if (!(await blob.ExistsAsync()).Value)
                    return false;
                var json = JsonDocument.Parse((await blob.DownloadContentAsync()).Value.Content.ToString()).RootElement;
                Assert.NotEqual("failed", json.GetProperty("state").GetString());
                finished = json.GetProperty("state").GetString() == "finished" ? json : null;
                return finished is not null;
            }, TimeSpan.FromSeconds(120), "the job to finish");
            return finished!.Value;
        }

        private async Task ReadNewPartsAsync()
        {
            await foreach (var item in results.GetBlobsAsync(Azure.Storage.Blobs.Models.BlobTraits.None, Azure.Storage.Blobs.Models.BlobStates.None, $"{Job}/parts/", CancellationToken.None))
            {
                if (_seen.Contains(item.Name))
                    continue;
                try
                {
                    var part = JsonDocument.Parse((await results.GetBlobClient(item.Name).DownloadContentAsync()).Value.Content.ToString()).RootElement;
                    var instance = part.GetProperty("instance").GetString()!;
                    ChunksBy[instance] = ChunksBy.GetValueOrDefault(instance) + 1;
                    _seen.Add(item.Name);
                }
                catch (Azure.RequestFailedException ex) when (ex.Status == 404)
                {
                    // Removed by the completion step between the listing and the read.
                }
            }
        }
    }
}

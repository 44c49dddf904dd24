using System.Text.Json;
using Azure.Storage.Blobs;
using FunctionApp.Tests.Support;

namespace FunctionApp.Tests.Contracts;

/// <summary><c>serve</c> killed with SIGKILL in the middle of a batch job, then started again.</summary>
[Trait("Category", "EndToEnd")]
public sealed class KillContractTests : IAsyncLifetime, IDisposable
{
    private readonly Azurite _azurite = new();
    private readonly ModelRoot _models = new();
    private readonly TempDirectory _temp = new();

    public Task InitializeAsync() => _azurite.InitializeAsync();

    public Task DisposeAsync() => _azurite.DisposeAsync();

    public void Dispose()
    {
        _azurite.Dispose();
        _models.Dispose();
        _temp.Dispose();
    }

    [Fact]
    public async Task Serve_KilledMidJob_ResumesAfterARestartWithNoDuplicateOrMissingLineAndNoTemporaryFiles()
    {
        var settings = _models.Settings(maxImageBytes: 200_000);
        settings["AzureWebJobsStorage"] = _azurite.ConnectionString;
        settings["Batch:ChunkSize"] = "2";
        settings["Storage:SweepInterval"] = "00:00:01";
        settings["Storage:SweepGrace"] = "00:00:03";
        settings["TMPDIR"] = _temp.Path;
        var results = new BlobServiceClient(_azurite.ConnectionString).GetBlobContainerClient("batch-results");
        var batches = new BlobServiceClient(_azurite.ConnectionString).GetBlobContainerClient("batches");

        await using (var first = await ServeProcess.StartAsync(settings))
        {
            await Poll.UntilAsync(async () => (await batches.ExistsAsync()).Value, TimeSpan.FromSeconds(60), "serve to create its containers");
            await batches.GetBlobClient("big.zip").UploadAsync(new BinaryData(BatchContractTests.Archive(400)));
            var images = new BlobServiceClient(_azurite.ConnectionString).GetBlobContainerClient("images");
            for (int i = 0; i < 20; i++)
                await images.GetBlobClient($"dropped/{i:D2}.png").UploadAsync(new BinaryData(Images.Solid(8, 8, SkiaSharp.SKColors.Red)));
            await ServeOnEmptyAccount.WaitForJsonAsync(results, "big.zip/progress.json", j => j.GetProperty("chunksDone").GetInt32() >= 10, seconds: 120);
            await first.KillAsync();
        }

        var killed = await ServeOnEmptyAccount.WaitForJsonAsync(results, "big.zip/progress.json");
        Assert.Equal("running", killed.GetProperty("state").GetString());

        await using var second = await ServeProcess.StartAsync(settings);
        var progress = await ServeOnEmptyAccount.WaitForJsonAsync(results, "big.zip/progress.json", j => j.GetProperty("state").GetString() == "finished", seconds: 180);

        var predictions = new BlobServiceClient(_azurite.ConnectionString).GetBlobContainerClient("predictions");
        var expected = Enumerable.Range(0, 20).Select(i => $"dropped/{i:D2}.png.json").ToList();
        await Poll.UntilAsync(async () => (await ServeOnEmptyAccount.NamesAsync(predictions)).SequenceEqual(expected), TimeSpan.FromSeconds(120), "an outcome for every dropped image");

        var lines = (await results.GetBlobClient("big.zip/results.jsonl").DownloadContentAsync()).Value.Content.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(Enumerable.Range(0, 400), lines.Select(l => JsonDocument.Parse(l).RootElement.GetProperty("index").GetInt32()));
        Assert.Equal((400, 0, 200), (progress.GetProperty("done").GetInt32(), progress.GetProperty("failed").GetInt32(), progress.GetProperty("chunksDone").GetInt32()));
        Assert.Equal(["big.zip/progress.json", "big.zip/results.jsonl", "big.zip/summary.csv"], await ServeOnEmptyAccount.NamesAsync(results));
        // The app leaves no temporary files (archives are read by range; the graph-only view of a model lives only while
        // it loads). What is there belongs to the runtime (its diagnostic sockets), to ONNX Runtime (.ses, its
        // telemetry session marker, one per temp folder), and to the optimized-model cache, which is kept on purpose:
        // every entry in it whole (one killed while being written stays in its staging folder, which a later save
        // removes once it is an hour old, and is never read).
        var left = Directory.EnumerateFileSystemEntries(_temp.Path).Select(Path.GetFileName).ToList();
        Assert.True(
            left.All(n => n!.StartsWith("dotnet-diagnostic-", StringComparison.Ordinal) || n.StartsWith("clr-debug-pipe-", StringComparison.Ordinal) || n == ".ses" || n == "functionapp-ort-cache"),
            string.Join(", ", Directory.EnumerateFileSystemEntries(_temp.Path, "*", SearchOption.AllDirectories).Select(f => Path.GetRelativePath(_temp.Path, f))));
        var cache = Path.Combine(_temp.Path, "functionapp-ort-cache");
        if (Directory.Exists(cache))
            Assert.All(Directory.GetDirectories(cache).Where(d => !Path.GetFileName(d).StartsWith(".staging-", StringComparison.Ordinal)), entry => Assert.True(File.Exists(Path.Combine(entry, FunctionApp.Inference.OptimizedModelCache.GraphFile)), $"a whole entry: {Path.GetFileName(entry)}"));
    }
}

using System.Diagnostics;
using System.Globalization;
using System.IO.Compression;
using System.Text.Json;
using Azure.Storage.Blobs;

namespace FunctionApp.Benchmarks;

/// <summary>
/// How long a dropped image waits for its result while a big batch job runs. The published app runs <c>serve</c>
/// against Azurite with the bundled model: images are dropped one at a time with the instance idle, then while a
/// 2,000-entry job runs, and each result's latency is timed from the end of its upload to its record appearing.
/// </summary>
internal static class Fairness
{
    public static async Task<int> RunAsync(string appDirectory, int entries, int drops)
    {
        int httpPort = LocalAzurite.FreePort();
        using var azurite = new LocalAzurite();
        var connection = azurite.ConnectionString;
        var start = new ProcessStartInfo(Path.Combine(appDirectory, "FunctionApp"), ["serve", "--urls", $"http://127.0.0.1:{httpPort}"]) { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        start.Environment["AzureWebJobsStorage"] = connection;
        using var serve = Process.Start(start)!;
        serve.OutputDataReceived += (_, _) => { };
        serve.ErrorDataReceived += (_, _) => { };
        serve.BeginOutputReadLine();
        serve.BeginErrorReadLine();
        try
        {
            var account = new BlobServiceClient(connection);
            var images = account.GetBlobContainerClient("images");
            var predictions = account.GetBlobContainerClient("predictions");
            var results = account.GetBlobContainerClient("batch-results");
            await BenchmarkMath.Until(async () => (await account.GetBlobContainerClient("batches").ExistsAsync()).Value, TimeSpan.FromMinutes(1));
            var photos = Enumerable.Range(0, 50).Select(i => BundledModel.PhotoJpeg(seed: i, width: 640, height: 480)).ToList();

            await DropAsync(images, predictions, "warm-up.jpg", photos[0]);
            var idle = new List<double>();
            for (int i = 0; i < drops; i++)
                idle.Add(await DropAsync(images, predictions, $"idle-{i}.jpg", photos[i + 1]));

            using (var buffer = new MemoryStream())
            {
                using (var zip = new ZipArchive(buffer, ZipArchiveMode.Create, leaveOpen: true))
                {
                    for (int i = 0; i < entries; i++)
                    {
                        using var entry = zip.CreateEntry($"{i:D5}.jpg", CompressionLevel.NoCompression).Open();
                        entry.Write(photos[i % photos.Count]);
                    }
                }

                buffer.Position = 0;
                await account.GetBlobContainerClient("batches").GetBlobClient("big.zip").UploadAsync(buffer);
            }

            var jobStarted = Stopwatch.StartNew();
            await BenchmarkMath.Until(async () => Progress(await Read(results, "big.zip/progress.json")) is { ChunksDone: >= 3 }, TimeSpan.FromMinutes(5));
            var busy = new List<double>();
            for (int i = 0; i < drops; i++)
            {
                busy.Add(await DropAsync(images, predictions, $"busy-{i}.jpg", photos[^(i + 1)]));
                if (Progress(await Read(results, "big.zip/progress.json")) is not { State: "running" })
                    throw new InvalidOperationException("The job ended before every image was dropped; use more entries.");
                await Task.Delay(2000);
            }

            await BenchmarkMath.Until(async () => Progress(await Read(results, "big.zip/progress.json")) is { State: "finished" }, TimeSpan.FromMinutes(30));
            var done = Progress(await Read(results, "big.zip/progress.json"))!;

            Console.WriteLine($"Dropped-image latency, upload to result, bundled model, {Environment.ProcessorCount} cores");
            Console.WriteLine("| instance | images | median s | max s |");
            Console.WriteLine("| --- | --- | --- | --- |");
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| idle | {idle.Count} | {BenchmarkMath.Median(idle):F2} | {idle.Max():F2} |"));
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| running a {entries:N0}-entry batch job | {busy.Count} | {BenchmarkMath.Median(busy):F2} | {busy.Max():F2} |"));
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"The job: {done.Done:N0} entries in {jobStarted.Elapsed.TotalSeconds:F0} s ({done.ImagesPerSecond:F1} images/s)."));
            return 0;
        }
        finally
        {
            serve.Kill(entireProcessTree: true);
        }
    }

    private sealed record JobState(string State, int ChunksDone, int Done, double? ImagesPerSecond);

    private static readonly JsonSerializerOptions Json = new() { PropertyNameCaseInsensitive = true };

    private static JobState? Progress(string? json) =>
        json is null ? null : JsonSerializer.Deserialize<JobState>(json, Json);

    private static async Task<double> DropAsync(BlobContainerClient images, BlobContainerClient predictions, string name, byte[] photo)
    {
        await images.GetBlobClient(name).UploadAsync(new BinaryData(photo), overwrite: true);
        var clock = Stopwatch.StartNew();
        await BenchmarkMath.Until(async () => (await predictions.GetBlobClient(name + ".json").ExistsAsync()).Value, TimeSpan.FromMinutes(2), TimeSpan.FromMilliseconds(50));
        return clock.Elapsed.TotalSeconds;
    }

    private static async Task<string?> Read(BlobContainerClient container, string name)
    {
        var blob = container.GetBlobClient(name);
        return (await blob.ExistsAsync()).Value ? (await blob.DownloadContentAsync()).Value.Content.ToString() : null;
    }
}

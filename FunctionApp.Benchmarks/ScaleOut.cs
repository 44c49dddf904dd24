using System.Diagnostics;
using System.Globalization;
using System.IO.Compression;
using System.Text;
using System.Text.Json;
using Azure.Storage.Blobs;

namespace FunctionApp.Benchmarks;

/// <summary>
/// A batch job's throughput as <c>serve</c> processes are added: one Azurite account, a job of Fashion-MNIST test
/// images (the repository's own, cycled), run with each layout of processes in turn, several rounds, interleaved.
/// A layout is one or more processes separated by <c>/</c>, each the CPU list <c>taskset -c</c> pins it to, optionally
/// preceded by <c>APPDIR:</c> to run another build of the app (a different host.json, say): <c>0</c> is one process on
/// core 0, <c>0/1</c> two processes on cores 0 and 1, <c>0,1</c> one process on both. Every process runs ONNX Runtime
/// with one intra-op thread and an engine pool of one engine per core it has. Each job is timed from the start of its
/// upload to its progress record saying finished. Prints each run, the median images/s per layout and its ratio to the
/// first layout's, and whether the sorted results.jsonl of every run are byte-identical (exit 1 if not).
/// </summary>
internal static class ScaleOut
{
    private static readonly JsonSerializerOptions Json = new() { PropertyNameCaseInsensitive = true };

    public static async Task<int> RunAsync(string appDirectory, string imagesDirectory, int entries, int rounds, IReadOnlyList<string> layouts)
    {
        var archive = Archive(imagesDirectory, entries);
        using var azurite = new LocalAzurite();
        var account = new BlobServiceClient(azurite.ConnectionString);
        var batches = account.GetBlobContainerClient("batches");
        var results = account.GetBlobContainerClient("batch-results");
        var rates = layouts.ToDictionary(l => l, _ => new List<double>());
        string? reference = null;
        bool identical = true;
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"A {entries:N0}-image job ({archive.Length / 1024:N0} KiB zip), {rounds} round(s) of layouts {string.Join(", ", layouts)}; {Environment.ProcessorCount} cores"));
        for (int round = 1; round <= rounds; round++)
        {
            foreach (var layout in layouts)
            {
                var (app, processes) = Parse(layout, appDirectory);
                var serves = new List<Process>();
                try
                {
                    foreach (var cores in processes)
                        serves.Add(await StartServeAsync(app, cores, azurite.ConnectionString));
                    await BenchmarkMath.Until(async () => (await batches.ExistsAsync()).Value, TimeSpan.FromMinutes(1));

                    string job = $"round{round}-{layout.Replace('/', '_').Replace(':', '_').Replace(',', '-')}-{Guid.NewGuid():N}.zip".Replace(Path.DirectorySeparatorChar, '_');
                    var clock = Stopwatch.StartNew();
                    await batches.GetBlobClient(job).UploadAsync(new BinaryData(archive));
                    JobState? state = null;
                    double? firstChunk = null, lastChunk = null, lastPartsRead = null;
                    var partsBy = new Dictionary<string, int>();
                    var partsSeen = new HashSet<string>();
                    await BenchmarkMath.Until(async () =>
                    {
                        state = Progress(await ReadAsync(results, $"{job}/progress.json"));
                        if (state is { ChunksDone: > 0 })
                            firstChunk ??= clock.Elapsed.TotalSeconds;
                        if (state is { Chunks: > 0 } && state.ChunksDone == state.Chunks)
                            lastChunk ??= clock.Elapsed.TotalSeconds;
                        if (lastPartsRead is null || clock.Elapsed.TotalSeconds - lastPartsRead > 0.5)
                        {
                            lastPartsRead = clock.Elapsed.TotalSeconds;
                            await ReadPartsAsync(results, job, partsSeen, partsBy);
                        }

                        return state is { State: "finished" or "failed" };
                    }, TimeSpan.FromMinutes(30), TimeSpan.FromMilliseconds(100));
                    double seconds = clock.Elapsed.TotalSeconds;
                    if (state!.State != "finished" || state.Done != entries)
                        throw new InvalidOperationException($"The job ended {state.State} with {state.Done} of {entries} entries.");

                    var lines = (await ReadAsync(results, $"{job}/results.jsonl"))!.Split('\n', StringSplitOptions.RemoveEmptyEntries);
                    Array.Sort(lines, StringComparer.Ordinal);
                    var sorted = string.Join('\n', lines);
                    reference ??= sorted;
                    bool same = sorted == reference;
                    identical &= same;
                    double rate = entries / seconds;
                    rates[layout].Add(rate);
                    Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"round {round}, {Describe(layout)}: {seconds:F1} s, {rate:F1} images/s, {state.Failed} failed, results {(same ? "identical to the first run's" : "DIFFERENT from the first run's")}"));
                    Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  first chunk done at {firstChunk:F1} s, last at {lastChunk:F1} s, finished at {seconds:F1} s; {state.Chunks} chunks, parts seen by process: {string.Join(", ", partsBy.Values.OrderDescending())}"));
                }
                finally
                {
                    // Stopped, not killed: the engine hands its leases (the blob scan's among them) back, so the
                    // next run's processes need not wait for them to expire.
                    foreach (var serve in serves)
                        await StopAsync(serve);
                }
            }
        }

        double baseline = BenchmarkMath.Median(rates[layouts[0]]);
        Console.WriteLine("| layout | runs | median images/s | ratio |");
        Console.WriteLine("| --- | --- | --- | --- |");
        foreach (var layout in layouts)
        {
            double median = BenchmarkMath.Median(rates[layout]);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| {Describe(layout)} | {rates[layout].Count} | {median:F1} | {(layout == layouts[0] ? "baseline" : (median / baseline).ToString("F2", CultureInfo.InvariantCulture) + "x")} |"));
        }

        Console.WriteLine(identical ? "sorted results.jsonl of every run: OK (byte-identical)" : "sorted results.jsonl of every run: DIFFERENT");
        return identical ? 0 : 1;
    }

    /// <summary>The images of the repository's test data, cycled to <paramref name="entries"/> stored zip entries named by their order.</summary>
    private static byte[] Archive(string imagesDirectory, int entries)
    {
        var images = Directory.EnumerateFiles(imagesDirectory, "*.png", SearchOption.AllDirectories).Order(StringComparer.Ordinal).ToList();
        if (images.Count == 0)
            throw new FileNotFoundException($"No PNG images under {imagesDirectory}.");
        using var buffer = new MemoryStream();
        using (var zip = new ZipArchive(buffer, ZipArchiveMode.Create, leaveOpen: true))
        {
            for (int i = 0; i < entries; i++)
            {
                var image = images[i % images.Count];
                var name = $"{i:D5}-{Path.GetFileName(Path.GetDirectoryName(image))}-{Path.GetFileName(image)}";
                using var entry = zip.CreateEntry(name, CompressionLevel.NoCompression).Open();
                entry.Write(File.ReadAllBytes(image));
            }
        }

        return buffer.ToArray();
    }

    private static (string App, string[] Processes) Parse(string layout, string appDirectory)
    {
        int colon = layout.LastIndexOf(':');
        var app = colon >= 0 ? layout[..colon] : appDirectory;
        return (app, layout[(colon + 1)..].Split('/'));
    }

    private static string Describe(string layout)
    {
        var (app, processes) = Parse(layout, string.Empty);
        var text = processes.Length == 1 ? $"1 process on core(s) {processes[0]}" : $"{processes.Length} processes on cores {string.Join(" and ", processes)}";
        return app.Length > 0 ? $"{Path.GetFileName(app.TrimEnd('/'))}, {text}" : text;
    }

    private static int CoreCount(string cores) =>
        cores.Split(',').Sum(part => part.Split('-') is [var from, var to] ? int.Parse(to, CultureInfo.InvariantCulture) - int.Parse(from, CultureInfo.InvariantCulture) + 1 : 1);

    private static async Task<Process> StartServeAsync(string app, string cores, string connection)
    {
        int port = LocalAzurite.FreePort();
        var start = new ProcessStartInfo("taskset", ["-c", cores, Path.Combine(app, "FunctionApp"), "serve", "--urls", $"http://127.0.0.1:{port}"])
        {
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        start.Environment["AzureWebJobsStorage"] = connection;
        start.Environment["OnnxRuntime__IntraOpThreads"] = "1";
        start.Environment["EnginePool__MaxEngines"] = CoreCount(cores).ToString(CultureInfo.InvariantCulture);
        start.Environment["Models__WarmUp"] = "Eager";
        var serve = Process.Start(start)!;
        var output = new StringBuilder();
        serve.OutputDataReceived += (_, e) => { lock (output) output.AppendLine(e.Data); };
        serve.ErrorDataReceived += (_, e) => { lock (output) output.AppendLine(e.Data); };
        serve.BeginOutputReadLine();
        serve.BeginErrorReadLine();
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}"), Timeout = TimeSpan.FromSeconds(5) };
        await BenchmarkMath.Until(async () =>
        {
            if (serve.HasExited)
                throw new InvalidOperationException($"serve exited with code {serve.ExitCode}: {output}");
            try
            {
                using var ready = await http.GetAsync("/api/health/ready");
                return ready.IsSuccessStatusCode;
            }
            catch (HttpRequestException)
            {
                return false;
            }
            catch (TaskCanceledException)
            {
                return false;
            }
        }, TimeSpan.FromMinutes(2));
        return serve;
    }

    private static async Task StopAsync(Process serve)
    {
        if (!serve.HasExited)
        {
            using (var term = Process.Start("kill", ["-TERM", serve.Id.ToString(CultureInfo.InvariantCulture)]))
                await term!.WaitForExitAsync();
            using var patience = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            try
            {
                await serve.WaitForExitAsync(patience.Token);
            }
            catch (OperationCanceledException)
            {
                serve.Kill(entireProcessTree: true);
                await serve.WaitForExitAsync();
            }
        }

        serve.Dispose();
    }

    private sealed record JobState(string State, int Done, int Failed, int Chunks, int ChunksDone);

    private static JobState? Progress(string? json) => json is null ? null : JsonSerializer.Deserialize<JobState>(json, Json);

    /// <summary>Reads the parts written since the last look (the job's last step removes them) and counts them by instance.</summary>
    private static async Task ReadPartsAsync(BlobContainerClient results, string job, HashSet<string> seen, Dictionary<string, int> by)
    {
        await foreach (var item in results.GetBlobsAsync(Azure.Storage.Blobs.Models.BlobTraits.None, Azure.Storage.Blobs.Models.BlobStates.None, $"{job}/parts/", CancellationToken.None))
        {
            if (seen.Contains(item.Name) || await ReadAsync(results, item.Name) is not { } json)
                continue;
            var instance = JsonDocument.Parse(json).RootElement.GetProperty("instance").GetString()!;
            by[instance] = by.GetValueOrDefault(instance) + 1;
            seen.Add(item.Name);
        }
    }

    private static async Task<string?> ReadAsync(BlobContainerClient container, string name)
    {
        try
        {
            return (await container.GetBlobClient(name).DownloadContentAsync()).Value.Content.ToString();
        }
        catch (Azure.RequestFailedException ex) when (ex.Status == 404)
        {
            return null;
        }
    }
}

using System.Collections.Concurrent;
using System.Globalization;
using System.IO.Compression;
using System.Text.RegularExpressions;
using Azure.Storage.Blobs;
using FunctionApp.Tests.Support;
using SkiaSharp;
using Xunit.Abstractions;

namespace FunctionApp.Tests.Hostile;

/// <summary>
/// A seeded corpus of over 300 hostile requests against <c>serve</c> (its own process, with the bundled model and a
/// storage account), then the memory cases: large-but-allowed images from many clients at once, and a batch of large
/// entries. Nothing a client sends may get a 5xx, an answer may never carry a stack trace, a type name or a path, every
/// answer comes within 10 s, and the process's memory (read from the OS) stays inside a 2 GB instance and comes back.
/// </summary>
[Trait("Category", "EndToEnd")]
public sealed partial class HostileInputTests(ITestOutputHelper output) : IAsyncLifetime, IDisposable
{
    private const long MaxPeakRss = 1536L * 1024 * 1024;
    private static readonly TimeSpan AnswerDeadline = TimeSpan.FromSeconds(10);
    private readonly Azurite _azurite = new();
    private ServeProcess? _serve;

    public async Task InitializeAsync()
    {
        await _azurite.InitializeAsync();
        var settings = new Dictionary<string, string?>
        {
            ["AzureWebJobsStorage"] = _azurite.ConnectionString,
            ["Storage:SweepInterval"] = "00:00:00",
        };
        // FunctionApp.Benchmarks/memory-settings.sh runs this suite under other runtime settings (GC modes and limits).
        foreach (var pair in (Environment.GetEnvironmentVariable("HOSTILE_SERVE_SETTINGS") ?? string.Empty).Split(';', StringSplitOptions.RemoveEmptyEntries))
            settings[pair.Split('=', 2)[0]] = pair.Split('=', 2)[1];
        _serve = await ServeProcess.StartAsync(settings);
    }

    public async Task DisposeAsync()
    {
        if (_serve is not null)
            await _serve.DisposeAsync();
        await _azurite.DisposeAsync();
    }

    public void Dispose() => _azurite.Dispose();

    [Fact]
    public async Task HostileCorpus_NoServerErrorsNoInternalsEveryAnswerInTime_AndMemoryStaysInsideTheInstance()
    {
        var serve = _serve!;
        int port = serve.Client.BaseAddress!.Port;
        using (var ready = await serve.Client.GetAsync("/api/health/ready"))
            Assert.True(ready.IsSuccessStatusCode, "the bundled model loads");

        // Steady state: the model loaded and its engines warmed by concurrent ordinary requests, and what follows a first
        // prediction in the background (the optimized model saved for later loads, unless it loaded from there) done.
        var warm = HostileCorpus.Build(seed: 7, "fashion-resnet18", "Input247").Where(c => c.Request.Kind == "valid").ToList();
        await RunAsync(port, [.. warm, .. warm, .. warm], parallel: 4);
        await serve.WaitForOutputAsync(TimeSpan.FromSeconds(60), "as optimized on this machine", "from the optimized model saved on this machine");
        await RunAsync(port, [.. warm], parallel: 1);
        await RunAsync(port, [.. warm, .. warm], parallel: 4);
        long steady = serve.ResidentBytes();

        var corpus = HostileCorpus.Build(seed: 20261127, "fashion-resnet18", "Input247");
        var slow = HostileCorpus.SlowBodies("fashion-resnet18");
        Assert.True(corpus.Count + slow.Count >= 300, $"{corpus.Count + slow.Count} requests");
        var slowRun = RunAsync(port, slow, parallel: slow.Count);
        var answers = await RunAsync(port, corpus, parallel: 8);
        answers.AddRange(await slowRun);

        // The memory cases, twice (what the first leaves behind must be reuse, not growth): 16 clients at once posting a
        // 6000x6000 PNG (allowed by the pixel limit), then a batch of large entries, each under the byte limit,
        // compressed well but under the bomb ratio; then quiet for a minute, for the memory the load took to go back.
        var huge = Images.Draw(6000, 6000, c => c.Clear(SKColors.Teal));
        var account = new BlobServiceClient(_azurite.ConnectionString);
        var archive = new BinaryData(LargeEntryArchive(entries: 16));
        var rounds = new List<(long Peak, long After)>();
        var batches = new List<System.Text.Json.JsonElement>();
        for (int round = 1; round <= 2; round++)
        {
            var bigImages = Enumerable.Range(0, 16).Select(i => new HostileCase(RawRequest.Http("memory", $"6000x6000 PNG, round {round}, client {i}", "POST", HostileCorpus.Predict, "image/png", huge), 200)).ToList();
            answers.AddRange(await RunAsync(port, bigImages, parallel: 16));
            string name = $"large-entries-{round}.zip";
            await account.GetBlobContainerClient("batches").GetBlobClient(name).UploadAsync(archive);
            batches.Add(await ServeOnEmptyAccount.WaitForJsonAsync(account.GetBlobContainerClient("batch-results"), $"{name}/progress.json", j => j.GetProperty("state").GetString() != "running", seconds: 120));
            long peak = serve.PeakResidentBytes();
            await Task.Delay(TimeSpan.FromSeconds(60));
            rounds.Add((peak, serve.ResidentBytes()));
        }

        foreach (var line in serve.Output.Where(l => l.Contains("Returned", StringComparison.Ordinal)))
            output.WriteLine($"  serve: {line.Trim()}");
        output.WriteLine($"{answers.Count} answers; RSS steady {Mib(steady)} MiB; {string.Join("; ", rounds.Select((r, i) => $"load {i + 1}: peak {Mib(r.Peak)} MiB, a minute after it {Mib(r.After)} MiB"))}");
        foreach (var kind in answers.GroupBy(a => a.Case.Request.Kind).OrderBy(g => g.Key, StringComparer.Ordinal))
            output.WriteLine($"  {kind.Key}: {kind.Count()} requests, statuses {string.Join(" ", kind.GroupBy(a => a.Response.Status).OrderBy(g => g.Key).Select(g => $"{g.Key}x{g.Count()}"))}, slowest {kind.Max(a => a.Response.Elapsed.TotalSeconds):F1} s");
        var failures = answers.Where(a => a.Problem is not null).Select(a => $"{a.Case.Request.Kind}: {a.Case.Request.Description}: {a.Problem}").ToList();
        Assert.True(failures.Count == 0, string.Join("\n", failures.Take(40)));
        Assert.All(batches, progress => Assert.Equal("finished", progress.GetProperty("state").GetString()));
        Assert.All(batches, progress => Assert.Equal(16, progress.GetProperty("done").GetInt32()));
        Assert.True(rounds.Max(r => r.Peak) <= MaxPeakRss, $"peak RSS {Mib(rounds.Max(r => r.Peak))} MiB, over {Mib(MaxPeakRss)} MiB");
        // Comes back after each of the two loads, so what a load leaves behind does not add up.
        for (int i = 0; i < rounds.Count; i++)
            Assert.True(rounds[i].After <= steady * 1.25, $"RSS {Mib(rounds[i].After)} MiB a minute after load {i + 1}, against {Mib(steady)} MiB before the loads");
    }

    private static long Mib(long bytes) => bytes / (1024 * 1024);

    private sealed record Answer(HostileCase Case, RawResponse Response, string? Problem);

    private static async Task<List<Answer>> RunAsync(int port, IReadOnlyList<HostileCase> cases, int parallel)
    {
        var answers = new ConcurrentBag<Answer>();
        await Parallel.ForEachAsync(cases, new ParallelOptions { MaxDegreeOfParallelism = parallel }, async (c, _) =>
        {
            var response = await RawHttp.SendAsync(port, c.Request, AnswerDeadline + TimeSpan.FromSeconds(5));
            answers.Add(new Answer(c, response, Judge(c, response)));
        });
        return [.. answers];
    }

    /// <summary>What is wrong with an answer, or null when it is right.</summary>
    private static string? Judge(HostileCase c, RawResponse response)
    {
        if (response.ConnectionError is { } error)
            return $"no answer ({error}) after {response.Elapsed.TotalSeconds:F1} s";
        if (response.Elapsed > AnswerDeadline)
            return $"answered after {response.Elapsed.TotalSeconds:F1} s";
        if (response.Status >= 500)
            return $"answered {response.Status}: {response.Body}";
        if (c.Expected is { } expected && response.Status != expected)
            return $"answered {response.Status}, expected {expected}: {Shorten(response.Body)}";
        if (Internals(response.Body) is { } leak)
            return $"the answer shows {leak}: {Shorten(response.Body)}";
        return null;
    }

    private static string Shorten(string text) => text.Length > 300 ? text[..300] + "..." : text;

    /// <summary>A stack frame, a .NET type name or an absolute path in an answer.</summary>
    private static string? Internals(string body)
    {
        if (StackFrame().IsMatch(body))
            return "a stack frame";
        if (TypeName().Match(body) is { Success: true } type)
            return $"a type name ({type.Value})";
        if (AbsolutePath().Match(body) is { Success: true } path)
            return $"a path ({path.Value})";
        if (body.Contains("(Parameter '", StringComparison.Ordinal))
            return "a parameter name";
        return null;
    }

    [GeneratedRegex(@"\bat [\w.`<>]+\(|--- End of|\.cs:line \d+", RegexOptions.CultureInvariant, 1000)]
    private static partial Regex StackFrame();

    [GeneratedRegex(@"\b(System|Microsoft|FunctionApp|Azure|SkiaSharp)\.[A-Z]\w+", RegexOptions.CultureInvariant, 1000)]
    private static partial Regex TypeName();

    [GeneratedRegex(@"(?<![\w.])/(home|work|tmp|usr|root|app|var|opt|proc)/", RegexOptions.CultureInvariant, 1000)]
    private static partial Regex AbsolutePath();

    /// <summary>Entries of about 19 MiB each (under the 20 MiB image limit) that deflate about 100 to 1.</summary>
    private static byte[] LargeEntryArchive(int entries)
    {
        const int width = 2600, height = 2550;
        var random = new Random(5);
        var bmp = Images.Bmp(width, height, (x, y) => new SKColor((byte)(x / 10), (byte)(y / 10), (byte)((x + y) / 20)));
        for (int i = 54; i < bmp.Length; i += 3000)
            bmp[i] = (byte)random.Next(256);
        using var buffer = new MemoryStream();
        using (var zip = new ZipArchive(buffer, ZipArchiveMode.Create, leaveOpen: true))
        {
            for (int i = 0; i < entries; i++)
            {
                bmp[60 + i] = (byte)i;
                using var entry = zip.CreateEntry(string.Create(CultureInfo.InvariantCulture, $"large/{i:D2}.bmp"), CompressionLevel.Optimal).Open();
                entry.Write(bmp);
            }
        }

        return buffer.ToArray();
    }
}

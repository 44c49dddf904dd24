using System.Diagnostics;

namespace FunctionApp.Tests.Support;

/// <summary>
/// <c>serve</c> as its own process (the app's executable, as a user starts it), with settings in its environment:
/// for tests that kill it the hard way and start it again.
/// </summary>
public sealed class ServeProcess : IAsyncDisposable
{
    private readonly Process _process;

    private ServeProcess(Process process, Uri address)
    {
        _process = process;
        Client = new HttpClient { BaseAddress = address, Timeout = TimeSpan.FromSeconds(30) };
    }

    public HttpClient Client { get; }

    /// <summary>The process id (what the app's instance name is made of when no Functions instance id is set).</summary>
    public int Id => _process.Id;

    /// <param name="settings">Settings, put in the process's environment.</param>
    /// <param name="executable">A published app's executable; by default the build beside the tests, run by <c>dotnet</c>.</param>
    public static async Task<ServeProcess> StartAsync(IDictionary<string, string?> settings, string? executable = null)
    {
        ArgumentNullException.ThrowIfNull(settings);
        int port = Azurite.FreePort();
        var start = AppProcess.StartInfo(["serve", "--urls", $"http://127.0.0.1:{port}"], settings, executable);
        var process = Process.Start(start) ?? throw new InvalidOperationException("serve did not start.");
        var serve = new ServeProcess(process, new Uri($"http://127.0.0.1:{port}"));
        process.OutputDataReceived += (_, e) => serve.Keep(e.Data);
        process.ErrorDataReceived += (_, e) => serve.Keep(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        await Poll.UntilAsync(async () =>
        {
            if (process.HasExited)
                throw new InvalidOperationException($"serve exited with code {process.ExitCode}.");
            try
            {
                using var live = await serve.Client.GetAsync("/api/health/live");
                return live.IsSuccessStatusCode;
            }
            catch (HttpRequestException)
            {
                return false;
            }
        }, TimeSpan.FromSeconds(60), "serve to answer /api/health/live");
        return serve;
    }

    private readonly System.Collections.Concurrent.ConcurrentQueue<string> _output = new();

    private void Keep(string? line)
    {
        if (line is not null)
            _output.Enqueue(line);
    }

    /// <summary>The lines the process has written so far (its log, standard output and error).</summary>
    public IReadOnlyList<string> Output => [.. _output];

    /// <summary>Waits until a line the process wrote (its log, standard output or error) contains one of <paramref name="texts"/>; returns that text.</summary>
    public async Task<string> WaitForOutputAsync(TimeSpan timeout, params string[] texts)
    {
        string? seen = null;
        try
        {
            await Poll.UntilAsync(() =>
            {
                seen = texts.FirstOrDefault(t => _output.Any(line => line.Contains(t, StringComparison.Ordinal)));
                return Task.FromResult(seen is not null);
            }, timeout, $"serve to write one of: {string.Join(" | ", texts)}");
        }
        catch (TimeoutException ex)
        {
            throw new TimeoutException($"{ex.Message} Its last lines:{Environment.NewLine}{string.Join(Environment.NewLine, _output.TakeLast(30))}", ex);
        }

        return seen!;
    }

    /// <summary>The process's resident memory now, as the OS counts it (VmRSS).</summary>
    public long ResidentBytes() => ProcStatus("VmRSS");

    /// <summary>The most resident memory the process has had (VmHWM).</summary>
    public long PeakResidentBytes() => ProcStatus("VmHWM");

    private long ProcStatus(string field)
    {
        var line = File.ReadLines($"/proc/{_process.Id}/status").First(l => l.StartsWith(field + ":", StringComparison.Ordinal));
        return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], System.Globalization.CultureInfo.InvariantCulture) * 1024;
    }

    /// <summary>SIGKILL: no shutdown, nothing flushed, messages in flight left invisible on their queue.</summary>
    public async Task KillAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }
    }

    public async ValueTask DisposeAsync()
    {
        await KillAsync();
        Client.Dispose();
        _process.Dispose();
    }
}

using System.Diagnostics;
using System.Net.Sockets;
using System.Net;

namespace FunctionApp.Tests.Support;

/// <summary>
/// Azurite's blob and queue services on free loopback ports for the tests that need storage, started from the
/// repository's node_modules (<c>npm ci</c>, which <c>./test.sh</c> runs) and stopped afterwards. The emulator's last lines
/// of output are kept: if it stops on its own during a test, disposing it fails the test with them and its exit code.
/// </summary>
public sealed class Azurite : IAsyncLifetime, IDisposable
{
    private const string AccountKey = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";
    private readonly TempDirectory _data = new();
    private const int KeptLines = 40;
    private readonly Queue<string> _lastLines = new();
    private Process? _process;

    public int Port { get; private set; }

    public int QueuePort { get; private set; }

    /// <summary>The emulator's process id while it runs.</summary>
    internal int? ProcessId => _process is { HasExited: false } process ? process.Id : null;

    public string ConnectionString =>
        $"DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey={AccountKey};BlobEndpoint=http://127.0.0.1:{Port}/devstoreaccount1;QueueEndpoint=http://127.0.0.1:{QueuePort}/devstoreaccount1;";

    private int _tablePort;

    public async Task InitializeAsync()
    {
        Port = FreePort();
        QueuePort = FreePort();
        _tablePort = FreePort();
        await StartAsync();
    }

    /// <summary>
    /// Stops the emulator as an outage would; its data stays (it is asked to stop, so it saves what it holds), and
    /// <see cref="StartAsync"/> brings it back on the same ports.
    /// </summary>
    public async Task StopAsync()
    {
        if (_process is { HasExited: false })
        {
            using (var term = Process.Start("kill", ["-TERM", _process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]))
                await term!.WaitForExitAsync();
            using var patience = new CancellationTokenSource(TimeSpan.FromSeconds(15));
            try
            {
                await _process.WaitForExitAsync(patience.Token);
            }
            catch (OperationCanceledException)
            {
                _process.Kill(entireProcessTree: true);
                await _process.WaitForExitAsync();
            }
        }

        _process?.Dispose();
        _process = null;
    }

    /// <summary>Starts the emulator on its ports over its data, and returns once both services listen.</summary>
    public async Task StartAsync()
    {
        var executable = Find();
        string P(int port) => port.ToString(System.Globalization.CultureInfo.InvariantCulture);
        _process = Process.Start(new ProcessStartInfo(executable, ["--blobHost", "127.0.0.1", "--blobPort", P(Port), "--queueHost", "127.0.0.1", "--queuePort", P(QueuePort), "--tableHost", "127.0.0.1", "--tablePort", P(_tablePort), "--location", _data.Path, "--silent", "--skipApiVersionCheck", "--loose", "--disableTelemetry"])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        }) ?? throw new InvalidOperationException("Azurite did not start.");
        _process.OutputDataReceived += (_, e) => Keep(e.Data);
        _process.ErrorDataReceived += (_, e) => Keep(e.Data);
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();

        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (DateTime.UtcNow < deadline)
        {
            if (_process.HasExited)
                throw new InvalidOperationException($"Azurite exited with code {_process.ExitCode} as it started.{LastOutput()}");
            try
            {
                foreach (var port in new[] { Port, QueuePort })
                {
                    using var client = new TcpClient();
                    await client.ConnectAsync(IPAddress.Loopback, port);
                }

                return;
            }
            catch (SocketException)
            {
                await Task.Delay(100);
            }
        }

        throw new TimeoutException("Azurite did not listen within 30 seconds.");
    }

    public async Task DisposeAsync()
    {
        var stopped = StoppedOnItsOwn();
        await StopAsync();
        if (stopped is not null)
            throw new InvalidOperationException(stopped);
    }

    /// <summary>What to say when the emulator went away without being asked to stop, or null while it runs.</summary>
    private string? StoppedOnItsOwn()
    {
        if (_process is not { HasExited: true } process)
            return null;
        process.WaitForExit(); // the output's last lines are read in by then
        return $"Azurite stopped on its own with exit code {process.ExitCode}.{LastOutput()}";
    }

    private void Keep(string? line)
    {
        if (line is null)
            return;
        lock (_lastLines)
        {
            _lastLines.Enqueue(line);
            while (_lastLines.Count > KeptLines)
                _lastLines.Dequeue();
        }
    }

    private string LastOutput()
    {
        lock (_lastLines)
            return _lastLines.Count == 0 ? " It wrote nothing." : $" Its last output:\n{string.Join('\n', _lastLines)}";
    }

    public void Dispose() => _data.Dispose();

    private static string Find()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, "node_modules", ".bin", "azurite");
            if (File.Exists(candidate))
                return candidate;
        }

        throw new FileNotFoundException("Azurite is not installed: run 'npm ci' in the repository root (./test.sh does).");
    }

    internal static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}

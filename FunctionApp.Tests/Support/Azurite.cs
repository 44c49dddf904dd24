using System.Diagnostics;
using System.Net.Sockets;
using System.Net;

namespace FunctionApp.Tests.Support;

/// <summary>
/// Azurite's blob and queue services on free loopback ports for the tests that need storage, started from the
/// repository's node_modules (<c>npm ci</c>, which <c>./test.sh</c> runs) and stopped afterwards.
/// </summary>
public sealed class Azurite : IAsyncLifetime, IDisposable
{
    private const string AccountKey = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";
    private readonly TempDirectory _data = new();
    private Process? _process;

    public int Port { get; private set; }

    public int QueuePort { get; private set; }

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
        _process = Process.Start(new ProcessStartInfo(executable, ["--blobHost", "127.0.0.1", "--blobPort", P(Port), "--queueHost", "127.0.0.1", "--queuePort", P(QueuePort), "--tableHost", "127.0.0.1", "--tablePort", P(_tablePort), "--location", _data.Path, "--silent", "--skipApiVersionCheck", "--loose"])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        }) ?? throw new InvalidOperationException("Azurite did not start.");
        _process.OutputDataReceived += (_, _) => { };
        _process.ErrorDataReceived += (_, _) => { };
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();

        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (DateTime.UtcNow < deadline)
        {
            if (_process.HasExited)
                throw new InvalidOperationException($"Azurite exited with code {_process.ExitCode}.");
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

    public Task DisposeAsync() => StopAsync();

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

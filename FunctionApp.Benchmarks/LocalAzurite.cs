using System.Diagnostics;
using System.Globalization;
using System.Net.Sockets;
using System.Net;

namespace FunctionApp.Benchmarks;

/// <summary>Azurite (from the repository's node_modules: <c>npm ci</c>) on free loopback ports, over a fresh folder.</summary>
internal sealed class LocalAzurite : IDisposable
{
    private const string AccountKey = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";
    private readonly Process _process;

    public LocalAzurite()
    {
        int blobPort = FreePort(), queuePort = FreePort(), tablePort = FreePort();
        string P(int port) => port.ToString(CultureInfo.InvariantCulture);
        var data = Directory.CreateTempSubdirectory("azurite-bench").FullName;
        _process = Process.Start(new ProcessStartInfo(Find(), ["--blobHost", "127.0.0.1", "--blobPort", P(blobPort), "--queueHost", "127.0.0.1", "--queuePort", P(queuePort), "--tableHost", "127.0.0.1", "--tablePort", P(tablePort), "--location", data, "--silent", "--skipApiVersionCheck", "--loose", "--disableTelemetry"])
        {
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        })!;
        _process.OutputDataReceived += (_, _) => { };
        _process.ErrorDataReceived += (_, _) => { };
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
        WaitForPort(blobPort);
        WaitForPort(queuePort);
        ConnectionString = $"DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey={AccountKey};BlobEndpoint=http://127.0.0.1:{blobPort}/devstoreaccount1;QueueEndpoint=http://127.0.0.1:{queuePort}/devstoreaccount1;";
    }

    public string ConnectionString { get; }

    public void Dispose()
    {
        _process.Kill(entireProcessTree: true);
        _process.Dispose();
    }

    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private static string Find()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, "node_modules", ".bin", "azurite");
            if (File.Exists(candidate))
                return candidate;
        }

        throw new FileNotFoundException("Run 'npm ci' in the repository root to install Azurite.");
    }

    private static void WaitForPort(int port)
    {
        for (int i = 0; i < 300; i++)
        {
            try
            {
                using var client = new TcpClient();
                client.Connect(IPAddress.Loopback, port);
                return;
            }
            catch (SocketException)
            {
                Thread.Sleep(100);
            }
        }

        throw new TimeoutException("Azurite did not start.");
    }
}

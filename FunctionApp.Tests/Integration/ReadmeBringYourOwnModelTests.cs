using System.Diagnostics;
using System.Net.Sockets;
using System.Net;
using FunctionApp.Tests.Support;

namespace FunctionApp.Tests.Integration;

/// <summary>
/// Runs the README's "Bring your own model" section as a user would: its fenced bash blocks, in order, in one bash
/// script from the repository root (so `dotnet run` builds and runs the app as typed, `serve` listens on 7071 and
/// Azurite on its default ports), except the block that needs an Azure subscription. It needs what the section names:
/// the .NET SDK, Azurite from `npm ci` and the Azure CLI, which ./test.sh installs. Everything the script started is
/// stopped by its process group, and the `my-models` folder it writes is removed.
/// </summary>
[Trait("Category", "EndToEnd")]
public class ReadmeBringYourOwnModelTests
{
    private const string Section = "Bring your own model";
    private const string Marker = ".written-by-the-readme-test";

    [Fact]
    public async Task Section_RunAsTyped_ImportsPredictsServesAndAnswersABlobDrop()
    {
        var root = ReadmeSection.RepositoryRoot;
        var blocks = ReadmeSection.BashBlocks(Section);
        Assert.True(blocks.Count(b => !b.NeedsAzure) >= 5, $"the section has {blocks.Count} bash blocks");
        Assert.Single(blocks, b => b.NeedsAzure);
        foreach (var port in new[] { 7071, 10000, 10001, 10002 })
            Assert.True(IsFree(port), $"Port {port} is in use; the README's commands need it (stop serve or Azurite first).");
        Assert.True(File.Exists(Path.Combine(root, "node_modules", ".bin", "azurite")), "Azurite is missing: run npm ci (./test.sh does).");
        Assert.True(File.Exists("/usr/bin/az") || Environment.GetEnvironmentVariable("PATH")!.Split(':').Any(d => File.Exists(Path.Combine(d, "az"))), "The Azure CLI is missing: apt-get install azure-cli (./test.sh does).");

        var models = Path.Combine(root, "my-models");
        if (Directory.Exists(models))
        {
            Assert.True(File.Exists(Path.Combine(models, Marker)), $"{models} exists and was not written by this test; move it away first.");
            Directory.Delete(models, recursive: true);
        }

        Directory.CreateDirectory(models);
        await File.WriteAllTextAsync(Path.Combine(models, Marker), "The README test removes this folder.\n");
        var script = Path.Combine(Path.GetTempPath(), $"readme-byom-{Guid.NewGuid():N}.sh");
        await File.WriteAllTextAsync(script, "set -euo pipefail\n" + string.Join("\n", blocks.Where(b => !b.NeedsAzure).Select(b => b.Code)) + "\n");
        try
        {
            var (exit, output, error) = await RunInOwnProcessGroupAsync(script, root, TimeSpan.FromMinutes(8));

            var transcript = $"exit {exit}\n--- stdout\n{output}\n--- stderr\n{error}";
            Assert.True(exit == 0, transcript);
            Assert.Contains($"Imported colours version 1 into {Path.Combine(models, "colours", "1")}", output, StringComparison.Ordinal);
            Assert.Matches(@"red\.png +1 +red +1\.0000", output);
            Assert.Contains("\"status\":\"ready\",\"model\":\"colours\"", output, StringComparison.Ordinal);
            Assert.Contains("{\"model\":\"colours\",\"version\":\"1\",\"images\":[{\"top\":[{\"label\":\"red\",\"index\":0,\"score\":1}]", output, StringComparison.Ordinal);
            Assert.Contains("\"name\":\"blue.png\",\"status\":\"ok\",\"model\":\"colours\",\"version\":\"1\",\"top\":[{\"label\":\"blue\"", output, StringComparison.Ordinal);
            Assert.Contains("Sealed colours version 1: 2 files listed in model.json", output, StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(script);
            Directory.Delete(models, recursive: true);
        }
    }

    private static bool IsFree(int port)
    {
        try
        {
            using var listener = new TcpListener(IPAddress.Loopback, port);
            listener.Start();
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    /// <summary>Runs bash in a session of its own, then ends every process it left behind (serve, Azurite) by that group.</summary>
    private static async Task<(int Exit, string Output, string Error)> RunInOwnProcessGroupAsync(string script, string workingDirectory, TimeSpan timeout)
    {
        var start = new ProcessStartInfo("setsid", ["bash", script])
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };

        // The test host's own MSBuild settings are not a user's: dotnet run builds as it would in a terminal.
        foreach (var name in start.Environment.Keys.Where(k => k.StartsWith("MSBuild", StringComparison.OrdinalIgnoreCase) || k.StartsWith("VSTEST", StringComparison.OrdinalIgnoreCase)).ToList())
            start.Environment.Remove(name);
        start.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        start.Environment["DOTNET_NOLOGO"] = "1";

        using var process = Process.Start(start) ?? throw new InvalidOperationException("bash did not start.");
        int group = process.Id; // setsid execs bash in place: its pid leads the new process group
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        using var cancel = new CancellationTokenSource(timeout);
        try
        {
            await process.WaitForExitAsync(cancel.Token);
        }
        catch (OperationCanceledException)
        {
            // Fall through: the group is ended below and the transcript says what ran.
        }
        finally
        {
            using var kill = Process.Start(new ProcessStartInfo("kill", ["-TERM", "--", $"-{group}"]) { UseShellExecute = false, RedirectStandardError = true });
            kill?.WaitForExit();
            await Task.Delay(TimeSpan.FromSeconds(1));
            using var killHard = Process.Start(new ProcessStartInfo("kill", ["-KILL", "--", $"-{group}"]) { UseShellExecute = false, RedirectStandardError = true });
            killHard?.WaitForExit();
        }

        return (process.HasExited ? process.ExitCode : -1, await output, await error);
    }
}

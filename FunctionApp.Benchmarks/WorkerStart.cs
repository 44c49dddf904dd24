using System.Diagnostics;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Logging;

namespace FunctionApp.Benchmarks;

/// <summary>
/// How long a start takes to a warm default model (the app's "Warmed up model" line), for the Functions worker's own
/// start path and for <c>serve</c> alike. The worker is launched as the Functions host launches it (the host's address
/// and ids on its command line); Core Tools cannot run on this machine, so a stand-in in this process takes the
/// worker's RPC stream (HTTP/2, the gRPC method the worker calls) and answers nothing. What the host adds after that
/// (its own start before the worker's, and proxying the first request) is not in the figure.
/// </summary>
public static class WorkerStart
{
    public const string WarmLine = "Warmed up model";

    public static async Task<int> RunAsync(string executable, string mode)
    {
        int port = LocalAzurite.FreePort();
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(kestrel => kestrel.ListenLocalhost(port, listen => listen.Protocols = HttpProtocols.Http2));
        await using var host = builder.Build();
        long streamOpenedTicks = 0;
        host.MapPost("/AzureFunctionsRpcMessages.FunctionRpc/EventStream", async context =>
        {
            Interlocked.CompareExchange(ref streamOpenedTicks, Stopwatch.GetTimestamp(), 0);
            context.Response.ContentType = "application/grpc";
            await context.Response.StartAsync(context.RequestAborted);
            try
            {
                await Task.Delay(Timeout.Infinite, context.RequestAborted);
            }
            catch (OperationCanceledException)
            {
                // The worker went away.
            }
        });
        await host.StartAsync();

        string[] arguments = mode == "worker"
            ? ["--functions-uri", $"http://localhost:{port}/", "--functions-worker-id", "bench", "--functions-request-id", "bench", "--functions-grpc-max-message-length", "2147483647"]
            : ["serve", "--urls", $"http://127.0.0.1:{LocalAzurite.FreePort()}"];
        var start = new ProcessStartInfo(executable, arguments) { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        start.Environment["Models__WarmUp"] = "Eager";
        var warm = new TaskCompletionSource<long>(TaskCreationOptions.RunContinuationsAsynchronously);
        long begin = Stopwatch.GetTimestamp();
        using var app = Process.Start(start) ?? throw new InvalidOperationException($"{executable} did not start");
        // The app's output goes to this program's standard error (the caller's log), stamped with the clock.
        void Watch(string? line)
        {
            if (line is null)
                return;
            Console.Error.WriteLine($"{Stopwatch.GetElapsedTime(begin).TotalMilliseconds,7:F0} ms  {line}");
            if (line.Contains(WarmLine, StringComparison.Ordinal))
                warm.TrySetResult(Stopwatch.GetTimestamp());
        }

        app.OutputDataReceived += (_, e) => Watch(e.Data);
        app.ErrorDataReceived += (_, e) => Watch(e.Data);
        app.BeginOutputReadLine();
        app.BeginErrorReadLine();
        try
        {
            long warmTicks = await warm.Task.WaitAsync(TimeSpan.FromSeconds(60));
            double warmMs = Stopwatch.GetElapsedTime(begin, warmTicks).TotalMilliseconds;
            long opened = Interlocked.Read(ref streamOpenedTicks);
            string stream = opened == 0 ? "" : $"; the RPC stream to the host opened after {Stopwatch.GetElapsedTime(begin, opened).TotalMilliseconds:F0} ms";
            await Console.Error.WriteLineAsync($"{mode}: model warm after {warmMs:F0} ms{stream}");
            Console.WriteLine(warmMs.ToString("F0", System.Globalization.CultureInfo.InvariantCulture));
            return 0;
        }
        catch (TimeoutException)
        {
            await Console.Error.WriteLineAsync($"{mode}: no '{WarmLine}' line within 60 s");
            return 1;
        }
        finally
        {
            app.Kill(entireProcessTree: true);
            await app.WaitForExitAsync();
        }
    }
}

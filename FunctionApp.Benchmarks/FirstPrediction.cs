using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;

namespace FunctionApp.Benchmarks;

/// <summary>
/// Cold start of a server as its first caller sees it: starts the server, then POSTs an image every 2 ms until an answer
/// is 200 OK, and prints the milliseconds from just before the start to that answer. The polling runs in this one
/// process: a shell loop that starts a new curl for every attempt spends a core on process starts while the server is
/// starting on the same two cores, and the server's figure would carry that cost.
/// </summary>
public static class FirstPrediction
{
    public static async Task<int> RunAsync(string url, string image, string executable, string[] arguments)
    {
        var body = await File.ReadAllBytesAsync(image);
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(60) };

        // The client's own first call (and its JIT) happens before the clock starts, against a port nobody holds yet.
        await TryAsync(http, url, body);

        var start = new ProcessStartInfo(executable) { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in arguments)
            start.ArgumentList.Add(argument);
        var clock = Stopwatch.StartNew();
        using var server = Process.Start(start) ?? throw new InvalidOperationException($"{executable} did not start");
        // The server's output goes to this program's standard error (the caller's log), stamped with the clock.
        server.OutputDataReceived += (_, e) => Stamp(clock, e.Data);
        server.ErrorDataReceived += (_, e) => Stamp(clock, e.Data);
        server.BeginOutputReadLine();
        server.BeginErrorReadLine();
        try
        {
            while (await TryAsync(http, url, body) != HttpStatusCode.OK)
            {
                if (server.HasExited)
                {
                    await Console.Error.WriteLineAsync($"the server exited with code {server.ExitCode} before it answered");
                    return 1;
                }

                if (clock.Elapsed > TimeSpan.FromSeconds(60))
                {
                    await Console.Error.WriteLineAsync("no successful answer within 60 s");
                    return 1;
                }

                await Task.Delay(2);
            }

            var elapsed = clock.Elapsed;
            server.Refresh();
            await Console.Error.WriteLineAsync($"first prediction after {elapsed.TotalMilliseconds:F0} ms; the server used {server.TotalProcessorTime.TotalMilliseconds:F0} ms of CPU by then");
            Console.WriteLine(elapsed.TotalMilliseconds.ToString("F0", System.Globalization.CultureInfo.InvariantCulture));
            return 0;
        }
        finally
        {
            server.Kill(entireProcessTree: true);
            await server.WaitForExitAsync();
        }
    }

    private static void Stamp(Stopwatch clock, string? line)
    {
        if (line is not null)
            Console.Error.WriteLine($"{clock.Elapsed.TotalMilliseconds,7:F0} ms  {line}");
    }

    private static async Task<HttpStatusCode?> TryAsync(HttpClient http, string url, byte[] body)
    {
        try
        {
            using var content = new ByteArrayContent(body);
            content.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
            using var response = await http.PostAsync(url, content);
            return response.StatusCode;
        }
        catch (HttpRequestException)
        {
            return null;
        }
    }
}

using System.Diagnostics;
using System.Globalization;
using System.Net.Sockets;
using System.Text;

namespace FunctionApp.Tests.Hostile;

/// <summary>One request as bytes on the wire, and how to send them: all at once, trickled, or stalled after a part.</summary>
public sealed record RawRequest(string Kind, string Description, byte[] Head, byte[] Body, TimeSpan? PauseEvery = null, int TrickleBytes = 0, int StallAfter = -1)
{
    public static RawRequest Http(string kind, string description, string method, string path, string? contentType, byte[] body, IEnumerable<(string Name, string Value)>? headers = null, bool declareLength = true)
    {
        var head = new StringBuilder();
        head.Append(CultureInfo.InvariantCulture, $"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n");
        if (contentType is not null)
            head.Append(CultureInfo.InvariantCulture, $"Content-Type: {contentType}\r\n");
        if (declareLength)
            head.Append(CultureInfo.InvariantCulture, $"Content-Length: {body.Length}\r\n");
        foreach (var (name, value) in headers ?? [])
            head.Append(CultureInfo.InvariantCulture, $"{name}: {value}\r\n");
        head.Append("\r\n");
        return new RawRequest(kind, description, Encoding.ASCII.GetBytes(head.ToString()), body);
    }
}

/// <summary>The answer as a client sees it: status, body and how long it took; or how the connection ended without one.</summary>
public sealed record RawResponse(int Status, string Body, TimeSpan Elapsed, string? ConnectionError = null);

/// <summary>
/// A deliberately plain HTTP/1.1 client over a socket: it sends exactly the bytes a request says (broken framing,
/// trickled or stalled bodies included) and reads whatever comes back, within a deadline.
/// </summary>
public static class RawHttp
{
    public static async Task<RawResponse> SendAsync(int port, RawRequest request, TimeSpan deadline)
    {
        ArgumentNullException.ThrowIfNull(request);
        var clock = Stopwatch.StartNew();
        using var timeout = new CancellationTokenSource(deadline);
        using var client = new TcpClient { NoDelay = true };
        try
        {
            await client.ConnectAsync("127.0.0.1", port, timeout.Token);
            var stream = client.GetStream();
            var reading = ReadResponseAsync(stream, timeout.Token);
            await stream.WriteAsync(request.Head, timeout.Token);
            await WriteBodyAsync(stream, request, reading, timeout.Token);
            var (status, body) = await reading;
            return new RawResponse(status, body, clock.Elapsed);
        }
        catch (OperationCanceledException)
        {
            return new RawResponse(0, string.Empty, clock.Elapsed, "no answer within the deadline");
        }
        catch (Exception ex) when (ex is IOException or SocketException)
        {
            return new RawResponse(0, string.Empty, clock.Elapsed, ex.GetType().Name);
        }
    }

    private static async Task WriteBodyAsync(NetworkStream stream, RawRequest request, Task answered, CancellationToken cancellationToken)
    {
        try
        {
            if (request.StallAfter >= 0)
            {
                await stream.WriteAsync(request.Body.AsMemory(0, Math.Min(request.StallAfter, request.Body.Length)), cancellationToken);
                return; // and send nothing more: the server must give up on the rest
            }

            if (request.PauseEvery is { } pause && request.TrickleBytes > 0)
            {
                for (int at = 0; at < request.Body.Length && !answered.IsCompleted; at += request.TrickleBytes)
                {
                    await stream.WriteAsync(request.Body.AsMemory(at, Math.Min(request.TrickleBytes, request.Body.Length - at)), cancellationToken);
                    await Task.WhenAny(Task.Delay(pause, cancellationToken), answered);
                }

                return;
            }

            await stream.WriteAsync(request.Body, cancellationToken);
        }
        catch (IOException)
        {
            // The server answered and closed before the whole body went: that answer is what counts.
        }
    }

    private static async Task<(int Status, string Body)> ReadResponseAsync(NetworkStream stream, CancellationToken cancellationToken)
    {
        var buffer = new MemoryStream();
        var chunk = new byte[16384];
        int headerEnd = -1;
        while (headerEnd < 0)
        {
            int n = await stream.ReadAsync(chunk, cancellationToken);
            if (n == 0)
                throw new IOException("the connection closed before an answer");
            buffer.Write(chunk, 0, n);
            headerEnd = IndexOf(buffer.GetBuffer().AsSpan(0, (int)buffer.Length), "\r\n\r\n"u8);
        }

        var all = buffer.ToArray();
        var head = Encoding.ASCII.GetString(all, 0, headerEnd);
        var lines = head.Split("\r\n");
        int status = int.Parse(lines[0].Split(' ')[1], CultureInfo.InvariantCulture);
        var headers = lines.Skip(1).Select(l => l.Split(':', 2)).Where(p => p.Length == 2).ToDictionary(p => p[0].Trim(), p => p[1].Trim(), StringComparer.OrdinalIgnoreCase);
        var rest = new MemoryStream();
        rest.Write(all, headerEnd + 4, all.Length - headerEnd - 4);
        if (headers.TryGetValue("Content-Length", out var length))
        {
            long want = long.Parse(length, CultureInfo.InvariantCulture);
            while (rest.Length < want)
            {
                int n = await stream.ReadAsync(chunk, cancellationToken);
                if (n == 0)
                    break;
                rest.Write(chunk, 0, n);
            }
        }
        else
        {
            int n;
            while ((n = await stream.ReadAsync(chunk, cancellationToken)) > 0)
                rest.Write(chunk, 0, n);
        }

        var body = rest.ToArray();
        if (headers.TryGetValue("Transfer-Encoding", out var encoding) && encoding.Contains("chunked", StringComparison.OrdinalIgnoreCase))
            body = Dechunk(body);
        return (status, Encoding.UTF8.GetString(body));
    }

    private static byte[] Dechunk(byte[] body)
    {
        var output = new MemoryStream();
        int at = 0;
        while (at < body.Length)
        {
            int lineEnd = IndexOf(body.AsSpan(at), "\r\n"u8);
            if (lineEnd < 0)
                break;
            int size = int.Parse(Encoding.ASCII.GetString(body, at, lineEnd).Split(';')[0], NumberStyles.HexNumber, CultureInfo.InvariantCulture);
            at += lineEnd + 2;
            if (size == 0 || at + size > body.Length)
                break;
            output.Write(body, at, size);
            at += size + 2;
        }

        return output.ToArray();
    }

    private static int IndexOf(ReadOnlySpan<byte> haystack, ReadOnlySpan<byte> needle) => haystack.IndexOf(needle);
}

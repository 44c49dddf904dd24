using System.Buffers;

namespace FunctionApp.Api;

/// <summary>Reads a request body into memory, stopping as soon as it passes a limit.</summary>
internal static class BoundedBody
{
    private const long PresizeLimit = 4 * 1024 * 1024;

    /// <summary>
    /// The arrays bodies are read into, from a pool of their own: the shared pool also keeps one array of each size for
    /// every thread that gave one back, and a photo's body (rounded up to a megabyte) is among the largest arrays the app
    /// rents, so under load the shared pool held eight of them. This one keeps at most two per core of each size, for
    /// whichever thread asks next.
    /// </summary>
    internal static readonly ArrayPool<byte> Pool = ArrayPool<byte>.Create((int)PresizeLimit, Math.Max(4, 2 * Environment.ProcessorCount));

    /// <exception cref="Exception">Whatever <paramref name="tooLarge"/> makes, once the body passes <paramref name="limit"/> bytes.</exception>
    /// <exception cref="Microsoft.AspNetCore.Http.BadHttpRequestException">The web server gave up on the body (too slow, malformed framing).</exception>
    /// <exception cref="ApiRequestException">The connection broke while the body was read.</exception>
    public static async Task<byte[]> ReadAsync(Stream body, long limit, Func<Exception> tooLarge, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(body);
        ArgumentNullException.ThrowIfNull(tooLarge);
        using var buffer = new MemoryStream();
        var chunk = new byte[81920];
        int read;
        try
        {
            while ((read = await body.ReadAsync(chunk, cancellationToken)) > 0)
            {
                if (buffer.Length + read > limit)
                    throw tooLarge();
                buffer.Write(chunk, 0, read);
            }
        }
        catch (IOException ex) when (ex is not Microsoft.AspNetCore.Http.BadHttpRequestException)
        {
            throw ApiRequestException.BadRequest("The request body could not be read to its end: the connection broke.");
        }

        return buffer.ToArray();
    }

    /// <summary>
    /// As <see cref="ReadAsync(Stream, long, Func{Exception}, CancellationToken)"/>; with a declared length (Content-Length)
    /// of up to a few megabytes, the body is read straight into one array of that size rented from the bodies' pool,
    /// without a growing buffer and a final copy (a photo's body would otherwise be a new large object per request,
    /// which only a full collection reclaims). Dispose the result once nothing reads the bytes any more.
    /// </summary>
    public static async Task<PooledBytes> ReadPooledAsync(Stream body, long? declaredLength, long limit, Func<Exception> tooLarge, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(body);
        ArgumentNullException.ThrowIfNull(tooLarge);
        // Up to a few megabytes (a photo): a client that declares more and sends nothing holds no more than that.
        if (declaredLength is not ({ } declared and > 0 and <= PresizeLimit))
            return PooledBytes.Own(await ReadAsync(body, limit, tooLarge, cancellationToken));
        if (declared > limit)
            throw tooLarge();

        var rented = Pool.Rent((int)declared);
        try
        {
            // The server holds the body to its declared length: a short one is a broken connection.
            await body.ReadExactlyAsync(rented.AsMemory(0, (int)declared), cancellationToken);
            return PooledBytes.Rented(rented, (int)declared);
        }
        catch (Exception ex)
        {
            Pool.Return(rented);
            if (ex is IOException and not Microsoft.AspNetCore.Http.BadHttpRequestException)
                throw ApiRequestException.BadRequest("The request body could not be read to its end: the connection broke.");
            throw;
        }
    }
}

/// <summary>A request body's bytes, in an array from the bodies' pool (given back on dispose) or of their own.</summary>
internal sealed class PooledBytes : IDisposable
{
    private byte[]? _rented;

    private PooledBytes(byte[]? rented, ReadOnlyMemory<byte> memory)
    {
        _rented = rented;
        Memory = memory;
    }

    public static PooledBytes Rented(byte[] rented, int length) => new(rented, rented.AsMemory(0, length));

    public static PooledBytes Own(byte[] bytes) => new(null, bytes);

    public ReadOnlyMemory<byte> Memory { get; }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _rented, null) is { } rented)
            BoundedBody.Pool.Return(rented);
    }
}

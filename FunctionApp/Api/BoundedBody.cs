namespace FunctionApp.Api;

/// <summary>Reads a request body into memory, stopping as soon as it passes a limit.</summary>
internal static class BoundedBody
{
    /// <exception cref="Exception">Whatever <paramref name="tooLarge"/> makes, once the body passes <paramref name="limit"/> bytes.</exception>
    /// <exception cref="Microsoft.AspNetCore.Http.BadHttpRequestException">The web server gave up on the body (too slow, malformed framing).</exception>
    /// <exception cref="ApiRequestException">The connection broke while the body was read.</exception>
    public static async Task<byte[]> ReadAsync(Stream body, long limit, Func<Exception> tooLarge, CancellationToken cancellationToken)
    {
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
}

namespace FunctionApp.Api;

/// <summary>Reads a request body into memory, stopping as soon as it passes a limit.</summary>
internal static class BoundedBody
{
    /// <exception cref="Exception">Whatever <paramref name="tooLarge"/> makes, once the body passes <paramref name="limit"/> bytes.</exception>
    public static async Task<byte[]> ReadAsync(Stream body, long limit, Func<Exception> tooLarge, CancellationToken cancellationToken)
    {
        using var buffer = new MemoryStream();
        var chunk = new byte[81920];
        int read;
        while ((read = await body.ReadAsync(chunk, cancellationToken)) > 0)
        {
            if (buffer.Length + read > limit)
                throw tooLarge();
            buffer.Write(chunk, 0, read);
        }

        return buffer.ToArray();
    }
}

using Azure;

namespace FunctionApp.Storage;

/// <summary>One upload of an input blob: which blob, and which version of it (its ETag), so an outcome names the exact upload it describes.</summary>
public sealed record SourceBlob(string Container, string Name, string ETag, long Size)
{
    /// <summary>An ETag as records keep it: without the quotes HTTP puts around it.</summary>
    public static string Plain(ETag etag) => etag.ToString().Trim('"');

    /// <summary>The ETag for a storage condition.</summary>
    public ETag AsETag() => new("\"" + ETag + "\"");
}

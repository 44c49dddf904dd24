using System.ComponentModel.DataAnnotations;

namespace FunctionApp.Api;

/// <summary>HTTP API settings (configuration section <c>Api</c>).</summary>
public sealed class ApiOptions
{
    public const string SectionName = "Api";

    /// <summary>The largest request body accepted, in bytes (all images of a request together).</summary>
    [Range(1024, 1L * 1024 * 1024 * 1024)]
    public long MaxRequestBytes { get; set; } = 64L * 1024 * 1024;

    /// <summary>Seconds a client is told to wait (Retry-After) when a model cannot load yet.</summary>
    [Range(1, 3600)]
    public int RetryAfterSeconds { get; set; } = 10;

    /// <summary>
    /// With <c>serve</c>: a key callers must send (header <c>x-functions-key</c> or query <c>code</c>) on every
    /// route that Azure Functions protects with a function key. Empty means no key is asked for.
    /// Under the Functions host, function keys do this instead.
    /// </summary>
    public string? ApiKey { get; set; }
}

using System.Security.Cryptography;
using System.Text.RegularExpressions;
using System.Text;
using Microsoft.AspNetCore.Http;

namespace FunctionApp.Api;

/// <summary>
/// <c>GET /</c>: the try-it page, one self-contained HTML file embedded in the app (<c>Api/try-it.html</c>) where a
/// person drops an image and sees the top labels. Both hosts serve it through <see cref="Get"/>; it is anonymous
/// because it carries no secrets (the key a person types stays in their browser and goes with each API call).
/// </summary>
public static partial class TryItPage
{
    public const string ContentType = "text/html; charset=utf-8";

    /// <summary>
    /// Only the page's own inline script and style (by hash), calls to its own origin, and the image the person
    /// picked (a blob: URL) are allowed: nothing else can load or run, so the page also works with no network.
    /// </summary>
    public static string ContentSecurityPolicy => Page.Value.Policy;

    public static IResult Get() => new PageResult(Page.Value);

    private static readonly Lazy<PageContent> Page = new(Load);

    private static PageContent Load()
    {
        using var stream = typeof(TryItPage).Assembly.GetManifestResourceStream("try-it.html")
            ?? throw new InvalidOperationException("The try-it page is not embedded in the app.");
        using var reader = new StreamReader(stream, Encoding.UTF8);
        var html = reader.ReadToEnd();
        string policy = string.Join("; ",
            "default-src 'none'",
            "script-src " + Hashes(ScriptBlock().Matches(html)),
            "style-src " + Hashes(StyleBlock().Matches(html)),
            "img-src blob: data:",
            "connect-src 'self'",
            "base-uri 'none'",
            "form-action 'none'",
            "frame-ancestors 'none'");
        return new PageContent(Encoding.UTF8.GetBytes(html), policy);
    }

    private static string Hashes(MatchCollection blocks) =>
        string.Join(' ', blocks.Select(m => $"'sha256-{Convert.ToBase64String(SHA256.HashData(Encoding.UTF8.GetBytes(m.Groups[1].Value)))}'"));

    [GeneratedRegex("<script>(.*?)</script>", RegexOptions.Singleline)]
    private static partial Regex ScriptBlock();

    [GeneratedRegex("<style>(.*?)</style>", RegexOptions.Singleline)]
    private static partial Regex StyleBlock();

    private sealed record PageContent(byte[] Html, string Policy);

    private sealed class PageResult(PageContent page) : IResult, IStatusCodeHttpResult, IContentTypeHttpResult
    {
        public int? StatusCode => StatusCodes.Status200OK;

        string? IContentTypeHttpResult.ContentType => TryItPage.ContentType;

        public Task ExecuteAsync(HttpContext httpContext)
        {
            ArgumentNullException.ThrowIfNull(httpContext);
            var response = httpContext.Response;
            response.StatusCode = StatusCodes.Status200OK;
            response.ContentType = TryItPage.ContentType;
            response.ContentLength = page.Html.Length;
            response.Headers.ContentSecurityPolicy = page.Policy;
            response.Headers.XContentTypeOptions = "nosniff";
            response.Headers["Referrer-Policy"] = "no-referrer";
            response.Headers.CacheControl = "no-cache";
            return response.Body.WriteAsync(page.Html, httpContext.RequestAborted).AsTask();
        }
    }
}

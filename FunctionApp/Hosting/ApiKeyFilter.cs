using System.Security.Cryptography;
using System.Text;
using FunctionApp.Api;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Options;

namespace FunctionApp.Hosting;

/// <summary>
/// Stands in for function keys under <c>serve</c>: when <c>Api:ApiKey</c> is set, key-protected routes need
/// it in the <c>x-functions-key</c> header or the <c>code</c> query parameter, as Azure Functions accepts keys.
/// </summary>
public sealed class ApiKeyFilter(IOptions<ApiOptions> options)
{
    private readonly byte[]? _key = string.IsNullOrEmpty(options.Value.ApiKey) ? null : Encoding.UTF8.GetBytes(options.Value.ApiKey);

    /// <summary>Whether the request may pass: no key is configured, or it carries the right one.</summary>
    public bool Allows(HttpRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (_key is null)
            return true;
        string? given = request.Headers["x-functions-key"].FirstOrDefault() ?? request.Query["code"].FirstOrDefault();
        return given is not null && CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(given), _key);
    }

    public static IResult Unauthorized() =>
        ApiErrors.Problem(new ApiError(StatusCodes.Status401Unauthorized, "Key required", "Send the API key in the x-functions-key header or the code query parameter."));
}

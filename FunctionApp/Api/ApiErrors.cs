using FunctionApp.Imaging;
using FunctionApp.Inference;
using FunctionApp.Models;
using FunctionApp.Storage;
using Microsoft.AspNetCore.Http;

namespace FunctionApp.Api;

/// <summary>What went wrong, as an HTTP status, a title and a detail a caller can act on.</summary>
public sealed record ApiError(int Status, string Title, string Detail, int? RetryAfterSeconds = null);

/// <summary>
/// The one place that turns failures into HTTP statuses. The caller's faults, each a type of its own: 400 malformed,
/// 404 unknown model or version, 408 a body that stalls, 413 too large, 415 unsupported type, 422 undecodable image;
/// 503 (with Retry-After) when a model cannot load or storage does not answer. Anything else is the server's fault:
/// 500 with a generic detail, its cause logged, never shown.
/// </summary>
public static class ApiErrors
{
    /// <summary>The answer for a failure that is not the caller's: nothing about its cause leaves the server.</summary>
    public static readonly ApiError Internal = new(StatusCodes.Status500InternalServerError, "Internal error", "The server could not complete the request; the cause has been logged.");

    /// <summary>The caller's fault (or a dependency that is not ready), or null for a server fault.</summary>
    public static ApiError? Classify(Exception exception, int retryAfterSeconds) => exception switch
    {
        ApiRequestException e => new ApiError(e.Status, e.Title, e.Message),
        ImageInputException e => FromImageError(e.Error, e.Message),
        InvalidInferenceRequestException e => new ApiError(StatusCodes.Status400BadRequest, "Malformed request", e.Message),
        ModelNotFoundException e => new ApiError(StatusCodes.Status404NotFound, "Model not found", e.Message),
        ModelLoadException e => new ApiError(StatusCodes.Status503ServiceUnavailable, "Model unavailable", e.Message, retryAfterSeconds),
        Storage.StorageUnavailableException e => new ApiError(StatusCodes.Status503ServiceUnavailable, "Storage unavailable", e.Message, retryAfterSeconds),
        BadHttpRequestException e => FromBadRequest(e.StatusCode),
        _ => null,
    };

    /// <summary>
    /// What the web server reports about a body it could not read: too slow or stalled (408), over its size limit (413),
    /// malformed framing such as a broken chunked encoding (400).
    /// </summary>
    public static ApiError FromBadRequest(int status) => status switch
    {
        StatusCodes.Status408RequestTimeout => new ApiError(status, "Request timed out", "The request body arrived too slowly or stopped arriving; send it again at a steady rate."),
        StatusCodes.Status413PayloadTooLarge => new ApiError(status, "Request too large", "The request body is over the server's size limit."),
        StatusCodes.Status431RequestHeaderFieldsTooLarge => new ApiError(status, "Headers too large", "The request's headers are over the server's size limit."),
        _ => new ApiError(StatusCodes.Status400BadRequest, "Malformed request", "The request body could not be read: its framing is malformed (for example a broken chunked encoding)."),
    };

    public static ApiError FromImageError(ImageInputError error, string detail) => error switch
    {
        ImageInputError.TooLarge or ImageInputError.TooManyPixels => new ApiError(StatusCodes.Status413PayloadTooLarge, "Image too large", detail),
        ImageInputError.UnsupportedFormat => new ApiError(StatusCodes.Status415UnsupportedMediaType, "Unsupported image type", detail),
        ImageInputError.Empty => new ApiError(StatusCodes.Status400BadRequest, "Empty image", detail),
        _ => new ApiError(StatusCodes.Status422UnprocessableEntity, "Undecodable image", detail),
    };

    /// <summary>A problem+json result, with Retry-After where the error asks for one, and no path in its detail.</summary>
    public static IResult Problem(ApiError error, IDictionary<string, object?>? extensions = null)
    {
        ArgumentNullException.ThrowIfNull(error);
        return new RetryAfterResult(
            TypedResults.Problem(detail: PublicText.Scrub(error.Detail), statusCode: error.Status, title: error.Title, extensions: extensions),
            error.RetryAfterSeconds);
    }

    private sealed class RetryAfterResult(IResult inner, int? retryAfterSeconds) : IResult, IStatusCodeHttpResult
    {
        public int? StatusCode => (inner as IStatusCodeHttpResult)?.StatusCode;

        public Task ExecuteAsync(HttpContext httpContext)
        {
            if (retryAfterSeconds is { } seconds)
                httpContext.Response.Headers.RetryAfter = seconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
            return inner.ExecuteAsync(httpContext);
        }
    }
}

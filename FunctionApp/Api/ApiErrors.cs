using FunctionApp.Imaging;
using FunctionApp.Inference;
using Microsoft.AspNetCore.Http;

namespace FunctionApp.Api;

/// <summary>What went wrong, as an HTTP status, a title and a detail a caller can act on.</summary>
public sealed record ApiError(int Status, string Title, string Detail, int? RetryAfterSeconds = null);

/// <summary>
/// The one place that turns failures into HTTP statuses: 400 malformed, 404 unknown model or version,
/// 413 too large, 415 unsupported type, 422 undecodable image, 503 (with Retry-After) when a model cannot
/// load. Anything else is not the caller's fault and is left to the host's 500 handling.
/// </summary>
public static class ApiErrors
{
    public static ApiError? Classify(Exception exception, int retryAfterSeconds) => exception switch
    {
        ApiRequestException e => new ApiError(e.Status, e.Title, e.Message),
        ImageInputException e => FromImageError(e.Error, e.Message),
        ModelNotFoundException e => new ApiError(StatusCodes.Status404NotFound, "Model not found", e.Message),
        ModelLoadException e => new ApiError(StatusCodes.Status503ServiceUnavailable, "Model unavailable", e.Message, retryAfterSeconds),
        Storage.StorageUnavailableException e => new ApiError(StatusCodes.Status503ServiceUnavailable, "Storage unavailable", e.Message, retryAfterSeconds),
        ArgumentException e => new ApiError(StatusCodes.Status400BadRequest, "Malformed request", e.Message),
        _ => null,
    };

    public static ApiError FromImageError(ImageInputError error, string detail) => error switch
    {
        ImageInputError.TooLarge or ImageInputError.TooManyPixels => new ApiError(StatusCodes.Status413PayloadTooLarge, "Image too large", detail),
        ImageInputError.UnsupportedFormat => new ApiError(StatusCodes.Status415UnsupportedMediaType, "Unsupported image type", detail),
        ImageInputError.Empty => new ApiError(StatusCodes.Status400BadRequest, "Empty image", detail),
        _ => new ApiError(StatusCodes.Status422UnprocessableEntity, "Undecodable image", detail),
    };

    /// <summary>A problem+json result, with Retry-After where the error asks for one.</summary>
    public static IResult Problem(ApiError error, IDictionary<string, object?>? extensions = null) =>
        new RetryAfterResult(
            TypedResults.Problem(detail: error.Detail, statusCode: error.Status, title: error.Title, extensions: extensions),
            error.RetryAfterSeconds);

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

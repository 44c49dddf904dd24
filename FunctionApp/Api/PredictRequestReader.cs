using System.Text.Json;
using FunctionApp.Classification;
using FunctionApp.Imaging;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Options;
using Microsoft.Net.Http.Headers;

namespace FunctionApp.Api;

/// <summary>What a prediction request asks for: which model, how many labels, and the images.</summary>
public sealed record PredictRequest(string? Model, string? Version, int? Top, IReadOnlyList<NamedImage> Images) : IDisposable
{
    /// <summary>The pooled array that a raw image body was read into, if any.</summary>
    internal IDisposable? Buffer { get; init; }

    /// <summary>Gives a pooled body back; call it only once nothing reads <see cref="Images"/> any more.</summary>
    public void Dispose() => Buffer?.Dispose();
}

/// <summary>
/// Reads the images of a prediction request from a raw image body (<c>image/*</c> or
/// <c>application/octet-stream</c>), <c>multipart/form-data</c> (one or many files) or JSON with base64
/// (<c>{"image": "..."}</c> or <c>{"images": [{"name": "...", "data": "..."}]}</c>), within the size limits.
/// </summary>
public sealed class PredictRequestReader(IOptions<ApiOptions> apiOptions, IOptions<ImageLimitsOptions> imageLimits, IOptions<PredictionOptions> predictionOptions)
{
    private readonly ApiOptions _api = apiOptions.Value;
    private readonly ImageLimitsOptions _limits = imageLimits.Value;
    private readonly PredictionOptions _prediction = predictionOptions.Value;

    public async Task<PredictRequest> ReadAsync(HttpRequest request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        var (model, version, top) = ReadQuery(request.Query);
        if (request.ContentLength > _api.MaxRequestBytes)
            throw TooLarge(request.ContentLength.Value);

        if (!MediaTypeHeaderValue.TryParse(request.ContentType, out var contentType) || contentType.MediaType.Value is not { } mediaType)
            throw Unsupported(request.ContentType);

        if (mediaType.StartsWith("image/", StringComparison.OrdinalIgnoreCase) || mediaType.Equals("application/octet-stream", StringComparison.OrdinalIgnoreCase))
        {
            var body = await BoundedBody.ReadPooledAsync(request.Body, request.ContentLength, _limits.MaxBytes, TooLargeImage, cancellationToken);
            return new PredictRequest(model, version, top, [new NamedImage(null, body.Memory)]) { Buffer = body };
        }

        var images = await ReadImagesAsync(request, mediaType, cancellationToken);
        if (images.Count == 0)
            throw ApiRequestException.BadRequest("The request holds no image.");
        if (images.Count > _prediction.MaxBatchImages)
            throw ApiRequestException.BadRequest($"The request holds {images.Count} images; at most {_prediction.MaxBatchImages} are accepted per request (Prediction:MaxBatchImages).");
        return new PredictRequest(model, version, top, images);
    }

    /// <summary>Reads and checks the <c>model</c>, <c>version</c> and <c>top</c> query parameters.</summary>
    public static (string? Model, string? Version, int? Top) ReadQuery(IQueryCollection query)
    {
        ArgumentNullException.ThrowIfNull(query);
        int? top = null;
        if (query.TryGetValue("top", out var topText))
        {
            if (!int.TryParse(topText, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var parsed) || parsed < 1 || parsed > 1000)
                throw ApiRequestException.BadRequest($"'top' must be a whole number from 1 to 1000 (got '{topText}').");
            top = parsed;
        }

        return (NullIfEmpty(query["model"]), NullIfEmpty(query["version"]), top);
    }

    /// <summary>The images of a body that is not a raw image: multipart files or base64 in JSON.</summary>
    private async Task<List<NamedImage>> ReadImagesAsync(HttpRequest request, string mediaType, CancellationToken cancellationToken)
    {
        if (mediaType.Equals("multipart/form-data", StringComparison.OrdinalIgnoreCase))
            return await ReadMultipartAsync(request, cancellationToken);
        if (mediaType.Equals("application/json", StringComparison.OrdinalIgnoreCase) || mediaType.EndsWith("+json", StringComparison.OrdinalIgnoreCase))
            return ReadJson(await ReadBodyAsync(request.Body, _api.MaxRequestBytes, cancellationToken));
        throw Unsupported(request.ContentType);
    }

    private async Task<List<NamedImage>> ReadMultipartAsync(HttpRequest request, CancellationToken cancellationToken)
    {
        IFormCollection form;
        try
        {
            form = await request.ReadFormAsync(Form, cancellationToken);
        }
        catch (InvalidDataException ex)
        {
            throw MultipartProblem(ex.Message);
        }
        catch (IOException ex) when (ex is not BadHttpRequestException)
        {
            throw ApiRequestException.BadRequest("The multipart body could not be read to its end: the connection broke.");
        }

        var images = new List<NamedImage>(form.Files.Count);
        foreach (var file in form.Files)
        {
            if (file.Length > _limits.MaxBytes)
                throw new ImageInputException(ImageInputError.TooLarge, $"'{file.FileName}' is {file.Length:N0} bytes, over the limit of {_limits.MaxBytes:N0} bytes (ImageLimits:MaxBytes).");
            await using var stream = file.OpenReadStream();
            var data = new byte[file.Length];
            await stream.ReadExactlyAsync(data, cancellationToken);
            images.Add(new NamedImage(string.IsNullOrEmpty(file.FileName) ? file.Name : file.FileName, data));
        }

        return images;
    }

    private List<NamedImage> ReadJson(byte[] body)
    {
        JsonPredictBody? parsed;
        try
        {
            parsed = JsonSerializer.Deserialize<JsonPredictBody>(body, ApiJson.Options);
        }
        catch (JsonException ex)
        {
            throw InvalidJson(ex);
        }

        if (parsed is null || (parsed.Image is null && parsed.Images is null))
            throw ApiRequestException.BadRequest("The JSON body needs \"image\" (base64) or \"images\" (a list of {\"name\", \"data\"}).");
        if (parsed.Images is { } listed && listed.Count > _prediction.MaxBatchImages)
            throw ApiRequestException.BadRequest($"The request holds {listed.Count} images; at most {_prediction.MaxBatchImages} are accepted per request (Prediction:MaxBatchImages).");

        var images = new List<NamedImage>();
        if (parsed.Image is not null)
            images.Add(new NamedImage(null, DecodeBase64(parsed.Image, "image")));
        foreach (var (item, i) in (parsed.Images ?? []).Select((item, i) => (item, i)))
        {
            if (item is null)
                throw ApiRequestException.BadRequest($"'images[{i}]' is null; each image is {{\"name\": \"...\", \"data\": \"<base64>\"}}.");
            images.Add(new NamedImage(item.Name, DecodeBase64(item.Data, $"images[{i}].data")));
        }

        return images;
    }

    /// <summary>Where the JSON went wrong, in the caller's terms: no parser internals, no type names.</summary>
    public static ApiRequestException InvalidJson(JsonException exception)
    {
        ArgumentNullException.ThrowIfNull(exception);
        var where = exception.Path is { Length: > 0 } path ? $" at {path}" : string.Empty;
        var position = exception.LineNumber is { } line ? $" (line {line + 1}, position {exception.BytePositionInLine + 1})" : string.Empty;
        return ApiRequestException.BadRequest($"The JSON body is not valid{where}{position}: check its syntax and that each field holds the kind of value it should.");
    }

    /// <summary>
    /// The multipart reader's complaints: over the body size limit is 413; a boundary, part header or field count
    /// over its limit, or a body that is not well-formed multipart, is the request's malformation: 400.
    /// </summary>
    private ApiRequestException MultipartProblem(string message)
    {
        if (message.Contains("Multipart body length limit", StringComparison.OrdinalIgnoreCase))
            return TooLarge(null);
        if (message.Contains("boundary", StringComparison.OrdinalIgnoreCase) && message.Contains("length limit", StringComparison.OrdinalIgnoreCase))
            return ApiRequestException.BadRequest($"The multipart boundary is longer than {Form.MultipartBoundaryLengthLimit} characters.");
        if (message.Contains("headers", StringComparison.OrdinalIgnoreCase) && message.Contains("limit", StringComparison.OrdinalIgnoreCase))
            return ApiRequestException.BadRequest($"A multipart part's headers are over {Form.MultipartHeadersLengthLimit:N0} bytes.");
        if (message.Contains("count limit", StringComparison.OrdinalIgnoreCase) || message.Contains("Form value count", StringComparison.OrdinalIgnoreCase))
            return ApiRequestException.BadRequest($"The multipart body holds more than {Form.ValueCountLimit:N0} fields and files.");
        if (message.Contains("limit", StringComparison.OrdinalIgnoreCase))
            return ApiRequestException.BadRequest("A multipart field is over its length limit.");
        return ApiRequestException.BadRequest("The multipart body is not well-formed: check its boundary and part headers.");
    }

    private FormOptions Form => new()
    {
        MultipartBodyLengthLimit = _api.MaxRequestBytes,
        ValueCountLimit = 1024,
        MultipartBoundaryLengthLimit = 128,
        MultipartHeadersLengthLimit = 16 * 1024,
    };

    /// <summary>Decodes base64 (or a base64 data URL); names the field when it is not base64.</summary>
    public static byte[] DecodeBase64(string? text, string field)
    {
        if (string.IsNullOrWhiteSpace(text))
            throw ApiRequestException.BadRequest($"'{field}' is empty.");
        int comma = text.StartsWith("data:", StringComparison.OrdinalIgnoreCase) ? text.IndexOf(',', StringComparison.Ordinal) : -1;
        var payload = comma >= 0 ? text[(comma + 1)..] : text;
        try
        {
            return Convert.FromBase64String(payload);
        }
        catch (FormatException)
        {
            throw ApiRequestException.BadRequest($"'{field}' is not valid base64.");
        }
    }

    private Task<byte[]> ReadBodyAsync(Stream body, long limit, CancellationToken cancellationToken) =>
        BoundedBody.ReadAsync(body, limit, () => TooLarge(null), cancellationToken);

    private ImageInputException TooLargeImage() =>
        new(ImageInputError.TooLarge, $"The image is over the limit of {_limits.MaxBytes:N0} bytes (ImageLimits:MaxBytes).");

    private ApiRequestException TooLarge(long? length) => new(
        StatusCodes.Status413PayloadTooLarge,
        "Request too large",
        length is { } l
            ? $"The request body is {l:N0} bytes, over the limit of {_api.MaxRequestBytes:N0} bytes (Api:MaxRequestBytes)."
            : $"The request body is over the limit of {_api.MaxRequestBytes:N0} bytes (Api:MaxRequestBytes).");

    private static ApiRequestException Unsupported(string? contentType) => new(
        StatusCodes.Status415UnsupportedMediaType,
        "Unsupported content type",
        $"Content-Type '{contentType}' is not accepted; send image/* or application/octet-stream (raw image), multipart/form-data (files) or application/json (base64).");

    private static string? NullIfEmpty(string? value) => string.IsNullOrWhiteSpace(value) ? null : value;

    private sealed class JsonPredictBody
    {
        public string? Image { get; set; }
        public List<JsonImage>? Images { get; set; }
    }

    private sealed class JsonImage
    {
        public string? Name { get; set; }
        public string? Data { get; set; }
    }
}

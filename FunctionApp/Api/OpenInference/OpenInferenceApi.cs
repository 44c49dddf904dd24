using System.Globalization;
using System.Reflection;
using System.Text.Json;
using FunctionApp.Classification;
using FunctionApp.Imaging;
using FunctionApp.Inference;
using FunctionApp.Models;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace FunctionApp.Api.OpenInference;

/// <summary>
/// The Open Inference Protocol REST API (the one KServe and Triton serve) over the same services as
/// <c>/api</c>. A model takes either its preprocessed FP32 input tensor or a BYTES input of base64-encoded
/// images, and answers <c>probabilities</c> (FP32 [N, classes]); asking for that output with the
/// <c>classification</c> parameter (Triton's classification extension) returns the top K as BYTES
/// <c>"score:index:label"</c>. Errors are <c>{"error": "..."}</c>.
/// </summary>
public sealed partial class OpenInferenceApi(
    ImageClassifier classifier,
    ModelCatalog catalog,
    EnginePoolRegistry pools,
    HealthCheckService health,
    IOptions<ApiOptions> options,
    IOptions<PredictionOptions> prediction,
    ILogger<OpenInferenceApi> logger)
{
    private readonly PredictionOptions _prediction = prediction.Value;
    public const string ProbabilitiesOutput = "probabilities";
    public const string ImageInput = "image";
    public const string ServerName = "fashion-inference";
    private readonly ApiOptions _options = options.Value;

    /// <summary><c>GET /v2</c></summary>
    public static IResult ServerMetadata() => TypedResults.Json(
        new V2ServerMetadata(ServerName, typeof(OpenInferenceApi).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "1.0.0", ["classification"]),
        ApiJson.Options);

    /// <summary><c>GET /v2/health/live</c></summary>
    public static IResult ServerLive() => TypedResults.Json(new { live = true }, ApiJson.Options);

    /// <summary><c>GET /v2/health/ready</c>: the default model is loaded and predicts.</summary>
    public async Task<IResult> ServerReadyAsync(CancellationToken cancellationToken)
    {
        var state = await ModelReadinessCheck.ReadAsync(health, cancellationToken);
        return TypedResults.Json(new { ready = state.Ready }, ApiJson.Options, statusCode: state.Ready ? StatusCodes.Status200OK : StatusCodes.Status503ServiceUnavailable);
    }

    /// <summary><c>GET /v2/models/{name}[/versions/{version}]</c></summary>
    public Task<IResult> ModelMetadataAsync(string name, string? version) => GuardAsync(() =>
    {
        var entry = catalog.Resolve(name, version);
        var package = catalog.Package(entry);
        var dims = InferencePipeline.InputDims(package.Manifest.Preprocessing).Select(d => (long)d).ToArray();
        dims[0] = -1;
        var versions = catalog.List().Where(e => e.Name == entry.Name).Select(e => e.Version).ToList();
        var metadata = new V2ModelMetadata(
            entry.Name,
            versions,
            "onnxruntime_onnx",
            [new V2TensorMetadata(package.Manifest.InputTensor, "FP32", dims), new V2TensorMetadata(ImageInput, "BYTES", [-1])],
            [new V2TensorMetadata(ProbabilitiesOutput, "FP32", [-1, package.Labels.Count])]);
        return Task.FromResult<IResult>(TypedResults.Json(metadata, ApiJson.Options));
    });

    /// <summary><c>GET /v2/models/{name}[/versions/{version}]/ready</c>: loads the model if it is not yet.</summary>
    public Task<IResult> ModelReadyAsync(string name, string? version, CancellationToken cancellationToken) => GuardAsync(async () =>
    {
        var entry = catalog.Resolve(name, version);
        try
        {
            using var lease = pools.Lease(entry);
            await lease.Pool.GetPipelineAsync(cancellationToken);
            return TypedResults.Json(new V2Ready(entry.Name, true), ApiJson.Options);
        }
        catch (ModelLoadException)
        {
            return TypedResults.Json(new V2Ready(entry.Name, false), ApiJson.Options, statusCode: StatusCodes.Status503ServiceUnavailable);
        }
    });

    /// <summary><c>POST /v2/models/{name}[/versions/{version}]/infer</c></summary>
    public Task<IResult> InferAsync(HttpRequest request, string name, string? version, CancellationToken cancellationToken) => GuardAsync(async () =>
    {
        ArgumentNullException.ThrowIfNull(request);
        var entry = catalog.Resolve(name, version);
        var body = await ReadRequestAsync(request, cancellationToken);
        if (body.Inputs is not { Count: 1 } inputs)
            throw ApiRequestException.BadRequest($"Send exactly one input (got {body.Inputs?.Count ?? 0}): the FP32 input tensor or a BYTES input of encoded images.");
        var input = inputs[0];
        var outputs = ReadRequestedOutputs(body.Outputs);

        ScoredImages scored;
        switch (input.Datatype)
        {
            case "FP32":
                scored = await classifier.ScoreTensorsAsync(ReadTensors(input, (await classifier.GetPackageAsync(entry, cancellationToken)).Manifest), entry, cancellationToken);
                break;
            case "BYTES":
                var images = ReadImages(input);
                scored = await classifier.ScoreImagesAsync(images, entry, cancellationToken);
                var failed = scored.Images.Select((s, i) => (s.Error, i)).FirstOrDefault(p => p.Error is not null);
                if (failed.Error is { } error)
                    throw new Imaging.ImageInputException(error.Error, $"Image {failed.i} of input '{input.Name}': {error.Message}");
                break;
            default:
                throw ApiRequestException.BadRequest($"Input '{input.Name}' has datatype '{input.Datatype}'; send FP32 (the preprocessed '{catalog.Package(entry).Manifest.InputTensor}' tensor) or BYTES (base64-encoded images).");
        }

        var response = new V2InferResponse(scored.Model, scored.Version, body.Id, outputs.Select(o => Output(o, scored)).ToList());
        return TypedResults.Json(response, ApiJson.Options);
    });

    private async Task<V2InferRequest> ReadRequestAsync(HttpRequest request, CancellationToken cancellationToken)
    {
        if (request.Headers.ContainsKey("Inference-Header-Content-Length"))
            throw new ApiRequestException(StatusCodes.Status415UnsupportedMediaType, "Unsupported content type", "The binary tensor data extension is not supported; send the request as JSON.");
        // The body is JSON whatever Content-Type says: clients such as curl -d label it form data.
        if (request.ContentLength > _options.MaxRequestBytes)
            throw new ApiRequestException(StatusCodes.Status413PayloadTooLarge, "Request too large", $"The request body is {request.ContentLength:N0} bytes, over the limit of {_options.MaxRequestBytes:N0} bytes (Api:MaxRequestBytes).");

        var body = await BoundedBody.ReadAsync(request.Body, _options.MaxRequestBytes, () => new ApiRequestException(StatusCodes.Status413PayloadTooLarge, "Request too large", $"The request body is over the limit of {_options.MaxRequestBytes:N0} bytes (Api:MaxRequestBytes)."), cancellationToken);
        try
        {
            return JsonSerializer.Deserialize<V2InferRequest>(body, ApiJson.Options)
                ?? throw ApiRequestException.BadRequest("The request body is empty.");
        }
        catch (JsonException ex)
        {
            throw PredictRequestReader.InvalidJson(ex);
        }
    }

    private static List<(string Name, int? Classification)> ReadRequestedOutputs(List<V2RequestedOutput>? requested)
    {
        if (requested is null || requested.Count == 0)
            return [(ProbabilitiesOutput, null)];
        var outputs = new List<(string, int?)>();
        foreach (var output in requested)
        {
            if (output.Name != ProbabilitiesOutput)
                throw ApiRequestException.BadRequest($"Output '{output.Name}' does not exist; this model has '{ProbabilitiesOutput}'.");
            int? k = null;
            if (output.Parameters?.TryGetValue("classification", out var value) == true)
            {
                if (value.ValueKind != JsonValueKind.Number || !value.TryGetInt32(out var parsed) || parsed < 0)
                    throw ApiRequestException.BadRequest("The 'classification' parameter must be a whole number.");
                k = parsed == 0 ? null : parsed;
            }

            outputs.Add((ProbabilitiesOutput, k));
        }

        return outputs;
    }

    /// <summary>
    /// The FP32 input as one tensor per image. The shape is checked (with checked arithmetic, against the batch limit)
    /// before anything is allocated, and the data is read into exactly the space the shape needs, so no declared
    /// shape can make the server allocate more than one request's worth.
    /// </summary>
    private List<float[]> ReadTensors(V2InputTensor input, ModelManifest manifest)
    {
        if (input.Name != manifest.InputTensor)
            throw ApiRequestException.BadRequest($"FP32 input '{input.Name}' is not this model's input; send '{manifest.InputTensor}' (or encoded images as BYTES).");
        var expected = InferencePipeline.InputDims(manifest.Preprocessing);
        var shape = input.Shape ?? [];
        string Shape() => $"[{string.Join(",", shape)}]";
        if (shape.Count != 4 || shape.Skip(1).Zip(expected.Skip(1)).Any(p => p.First != p.Second))
            throw ApiRequestException.BadRequest($"Input '{input.Name}' has shape {Shape()}; expected [N,{string.Join(",", expected.Skip(1))}].");
        if (shape[0] < 1 || shape[0] > _prediction.MaxBatchImages)
            throw ApiRequestException.BadRequest($"Input '{input.Name}' has shape {Shape()}: N must be from 1 to {_prediction.MaxBatchImages} (Prediction:MaxBatchImages).");

        int length = manifest.Preprocessing.TensorLength;
        int images = (int)shape[0];
        int count = checked(images * length);
        var values = new float[count];
        int filled = 0;
        Flatten(input.Data, values, ref filled, input.Name ?? string.Empty, Shape);
        if (filled != count)
            throw ApiRequestException.BadRequest($"Input '{input.Name}' has {filled:N0} values but its shape {Shape()} needs {count:N0}.");
        return Enumerable.Range(0, images).Select(i => values.AsSpan(i * length, length).ToArray()).ToList();
    }

    private static void Flatten(JsonElement element, float[] values, ref int filled, string name, Func<string> shape)
    {
        switch (element.ValueKind)
        {
            case JsonValueKind.Array:
                foreach (var item in element.EnumerateArray())
                    Flatten(item, values, ref filled, name, shape);
                break;
            case JsonValueKind.Number when element.TryGetSingle(out var value) && float.IsFinite(value):
                if (filled == values.Length)
                    throw ApiRequestException.BadRequest($"Input '{name}' holds more values than its shape {shape()} needs ({values.Length:N0}).");
                values[filled++] = value;
                break;
            default:
                throw ApiRequestException.BadRequest($"Input '{name}' must hold FP32 numbers; found {element.ValueKind}.");
        }
    }

    private List<NamedImage> ReadImages(V2InputTensor input)
    {
        var strings = new List<string>();
        void Collect(JsonElement element)
        {
            if (element.ValueKind == JsonValueKind.Array)
            {
                foreach (var item in element.EnumerateArray())
                    Collect(item);
            }
            else if (element.ValueKind == JsonValueKind.String)
            {
                if (strings.Count == _prediction.MaxBatchImages)
                    throw ApiRequestException.BadRequest($"BYTES input '{input.Name}' holds more than {_prediction.MaxBatchImages} images (Prediction:MaxBatchImages).");
                strings.Add(element.GetString()!);
            }
            else
            {
                throw ApiRequestException.BadRequest($"BYTES input '{input.Name}' must hold base64 strings; found {element.ValueKind}.");
            }
        }

        var shape = input.Shape ?? [];
        if (shape.Count is < 1 or > 2 || (shape.Count == 2 && shape[1] != 1) || shape[0] < 1 || shape[0] > _prediction.MaxBatchImages)
            throw ApiRequestException.BadRequest($"BYTES input '{input.Name}' has shape [{string.Join(",", shape)}]; send shape [N] (or [N,1]) with N from 1 to {_prediction.MaxBatchImages} base64-encoded images (Prediction:MaxBatchImages).");
        Collect(input.Data);
        if (strings.Count != shape[0])
            throw ApiRequestException.BadRequest($"BYTES input '{input.Name}' has shape [{string.Join(",", shape)}] but {strings.Count} elements; send as many base64-encoded images as the shape says.");
        return strings.Select((s, i) => new NamedImage($"{input.Name}[{i}]", PredictRequestReader.DecodeBase64(s, $"{input.Name}[{i}]"))).ToList();
    }

    private static V2OutputTensor Output((string Name, int? Classification) output, ScoredImages scored)
    {
        int n = scored.Images.Count;
        int classes = scored.Package.Labels.Count;
        if (output.Classification is not { } k)
            return new V2OutputTensor(output.Name, "FP32", [n, classes], scored.Images.SelectMany(i => i.Probabilities).ToArray());

        k = Math.Min(k, classes);
        var data = scored.Images
            .SelectMany(i => ScorePostprocessor.TopK(i.Probabilities, scored.Package.Labels, k))
            .Select(t => string.Create(CultureInfo.InvariantCulture, $"{t.Score}:{t.Index}:{t.Label}"))
            .ToArray();
        return new V2OutputTensor(output.Name, "BYTES", [n, k], data);
    }

    private async Task<IResult> GuardAsync(Func<Task<IResult>> handler)
    {
        try
        {
            return await handler();
        }
        catch (Exception ex) when (ApiErrors.Classify(ex, _options.RetryAfterSeconds) is { } error)
        {
            LogRejected(error.Status, error.Detail);
            return new V2ErrorResult(error);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            LogFailed(ex);
            return new V2ErrorResult(ApiErrors.Internal);
        }
    }

    private sealed class V2ErrorResult(ApiError error) : IResult
    {
        public Task ExecuteAsync(HttpContext httpContext)
        {
            if (error.RetryAfterSeconds is { } seconds)
                httpContext.Response.Headers.RetryAfter = seconds.ToString(CultureInfo.InvariantCulture);
            return TypedResults.Json(new V2Error(PublicText.Scrub(error.Detail)), ApiJson.Options, statusCode: error.Status).ExecuteAsync(httpContext);
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Open Inference request answered {Status}: {Detail}")]
    private partial void LogRejected(int status, string detail);

    [LoggerMessage(Level = LogLevel.Error, Message = "An Open Inference request failed on the server's side; answered 500")]
    private partial void LogFailed(Exception exception);
}

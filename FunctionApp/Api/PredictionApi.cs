using FunctionApp.Batch;
using FunctionApp.Chains;
using FunctionApp.Classification;
using FunctionApp.Models;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace FunctionApp.Api;

/// <summary>
/// The <c>/api/...</c> routes as handlers that both hosts call: the Functions in <c>Functions/</c> and the
/// self-hosted server. Each handler turns a request into a service call and the result (or failure) into
/// a response; the work itself lives in <see cref="ImageClassifier"/> and friends.
/// </summary>
public sealed partial class PredictionApi(
    PredictRequestReader reader,
    ImageClassifier classifier,
    ModelCatalog catalog,
    ModelDescriptions models,
    HealthCheckService health,
    SliceChain chain,
    Batch.BatchJobProcessor batches,
    IOptions<ApiOptions> options,
    ILogger<PredictionApi> logger)
{
    private readonly ApiOptions _options = options.Value;

    /// <summary><c>POST /api/predict?model=&amp;version=&amp;top=</c></summary>
    public Task<IResult> PredictAsync(HttpRequest request, CancellationToken cancellationToken) => GuardAsync(async () =>
    {
        // The body's pooled array goes back once the answer is made: nothing reads the image after that.
        using var body = await reader.ReadAsync(request, cancellationToken);
        var minScore = MinScoreQuery.Read(request.Query);
        var entry = catalog.Resolve(body.Model, body.Version);
        if (body.Images.Count == 1)
            return TypedResults.Json(await classifier.ClassifyAsync(body.Images[0], entry, body.Top, minScore, cancellationToken), ApiJson.Options);

        var result = await classifier.ClassifyBatchAsync(body.Images, entry, body.Top, minScore, cancellationToken);
        if (result.Images.All(i => !i.Succeeded))
        {
            var first = result.Images[0];
            var error = ApiErrors.FromImageError(first.ErrorKind!.Value, $"None of the {result.Images.Count} images could be classified; the first: {first.Error}");
            LogRejected(error.Status, error.Detail);
            return ApiErrors.Problem(error, new Dictionary<string, object?> { ["images"] = result.Images });
        }

        return TypedResults.Json(result, ApiJson.Options);
    });

    /// <summary>
    /// <c>POST /api/chains?model=&amp;version=&amp;top=</c>: runs one image through a sliced model as a chain of
    /// function invocations; answers 202 with the chain's address to poll.
    /// </summary>
    public Task<IResult> StartChainAsync(HttpRequest request, CancellationToken cancellationToken) => GuardAsync(async () =>
    {
        var body = await reader.ReadAsync(request, cancellationToken);
        if (body.Images.Count != 1)
            throw ApiRequestException.BadRequest("A chain classifies one image; send exactly one.");
        var state = await chain.StartAsync(body.Images[0], body.Model, body.Version, body.Top, cancellationToken);
        return TypedResults.Json(state, ApiJson.Options, statusCode: StatusCodes.Status202Accepted).WithLocation($"/{ApiRoutes.Chains}/{state.Id}");
    });

    /// <summary><c>GET /api/chains/{id}</c>: 202 while running, 200 with the answer (or the failure) once done.</summary>
    public Task<IResult> GetChainAsync(string id, CancellationToken cancellationToken) => GuardAsync(async () =>
    {
        var state = await chain.GetAsync(id, cancellationToken)
            ?? throw new ApiRequestException(StatusCodes.Status404NotFound, "Chain not found", $"No chain '{id}' exists.");
        return TypedResults.Json(state, ApiJson.Options, statusCode: state.Status == "running" ? StatusCodes.Status202Accepted : StatusCodes.Status200OK);
    });

    /// <summary>
    /// <c>GET /api/batches?job=</c>: a batch job's progress (the job is the batch blob's name, such as <c>shoot.zip</c>):
    /// 202 while it runs, 200 once finished or failed.
    /// </summary>
    public Task<IResult> GetBatchAsync(HttpRequest request, CancellationToken cancellationToken) => GuardAsync(async () =>
    {
        ArgumentNullException.ThrowIfNull(request);
        var job = request.Query["job"].FirstOrDefault();
        if (string.IsNullOrWhiteSpace(job))
            throw ApiRequestException.BadRequest("Name the job: ?job= and the batch blob's name, such as shoot.zip.");
        var progress = await batches.GetProgressAsync(job, cancellationToken)
            ?? throw new ApiRequestException(StatusCodes.Status404NotFound, "Batch job not found", $"No batch job '{job}' exists.");
        return TypedResults.Json(progress, ApiJson.Options, statusCode: progress.State == Batch.BatchJobState.Running ? StatusCodes.Status202Accepted : StatusCodes.Status200OK);
    });

    /// <summary><c>GET /api/models</c></summary>
    public Task<IResult> ListModelsAsync() => GuardAsync(() => Task.FromResult<IResult>(TypedResults.Json(models.List(), ApiJson.Options)));

    /// <summary><c>GET /api/models/{name}</c></summary>
    public Task<IResult> GetModelAsync(string name) => GuardAsync(() => Task.FromResult<IResult>(TypedResults.Json(models.Get(name), ApiJson.Options)));

    /// <summary><c>GET /api/openapi.json</c>: the OpenAPI document of both hosts' routes.</summary>
    public static IResult OpenApiDocument() => TypedResults.Bytes(OpenApiBytes.Value, "application/json");

    private static readonly Lazy<byte[]> OpenApiBytes = new(() =>
    {
        using var stream = typeof(PredictionApi).Assembly.GetManifestResourceStream("openapi.json")
            ?? throw new InvalidOperationException("The OpenAPI document is not embedded in the app.");
        using var buffer = new MemoryStream();
        stream.CopyTo(buffer);
        return buffer.ToArray();
    });

    /// <summary><c>GET /api/health/live</c>: the process answers.</summary>
    public static IResult Live() => TypedResults.Json(new { status = "live" }, ApiJson.Options);

    /// <summary><c>GET /api/health/ready</c>: the default model is loaded and predicts.</summary>
    public async Task<IResult> ReadyAsync(CancellationToken cancellationToken)
    {
        var state = await ModelReadinessCheck.ReadAsync(health, cancellationToken);
        var facts = state.ColdStart;
        var body = new
        {
            status = state.Ready ? "ready" : "unavailable",
            model = state.Model,
            version = state.Version,
            coldStart = facts is null ? null : new ColdStartInfo(facts.State, facts.LoadAttempts, facts.LoadTime?.TotalMilliseconds, facts.FirstPredictionTime?.TotalMilliseconds, facts.LoadedAt, facts.LastError),
            error = state.Error,
        };
        if (state.Ready)
            return TypedResults.Json(body, ApiJson.Options);
        return ApiErrors.Problem(
            new ApiError(StatusCodes.Status503ServiceUnavailable, "Not ready", state.Error ?? "The default model is not loaded.", _options.RetryAfterSeconds),
            new Dictionary<string, object?> { ["model"] = state.Model, ["version"] = state.Version });
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
            return ApiErrors.Problem(error);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            LogFailed(ex);
            return ApiErrors.Problem(ApiErrors.Internal);
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Answered {Status}: {Detail}")]
    private partial void LogRejected(int status, string detail);

    [LoggerMessage(Level = LogLevel.Error, Message = "A request failed on the server's side; answered 500")]
    private partial void LogFailed(Exception exception);
}

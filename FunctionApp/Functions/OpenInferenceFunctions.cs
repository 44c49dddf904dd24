using FunctionApp.Api.OpenInference;
using FunctionApp.Api;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Azure.Functions.Worker;

namespace FunctionApp.Functions;

/// <summary>The Open Inference Protocol (KServe v2 / Triton) routes under <c>/v2</c>.</summary>
public sealed class OpenInferenceFunctions(OpenInferenceApi api)
{
    [Function("V2ServerMetadata")]
    public static IActionResult ServerMetadata(
        [HttpTrigger(AuthorizationLevel.Function, "get", Route = ApiRoutes.V2Server)] HttpRequest request) =>
        OpenInferenceApi.ServerMetadata().AsAction();

    [Function("V2ServerLive")]
    public static IActionResult ServerLive(
        [HttpTrigger(AuthorizationLevel.Anonymous, "get", Route = ApiRoutes.V2Live)] HttpRequest request) =>
        OpenInferenceApi.ServerLive().AsAction();

    [Function("V2ServerReady")]
    public Task<IActionResult> ServerReady(
        [HttpTrigger(AuthorizationLevel.Anonymous, "get", Route = ApiRoutes.V2Ready)] HttpRequest request,
        CancellationToken cancellationToken) =>
        api.ServerReadyAsync(cancellationToken).AsAction();

    [Function("V2ModelMetadata")]
    public Task<IActionResult> ModelMetadata(
        [HttpTrigger(AuthorizationLevel.Function, "get", Route = ApiRoutes.V2Model)] HttpRequest request,
        string name) =>
        api.ModelMetadataAsync(name, null).AsAction();

    [Function("V2ModelVersionMetadata")]
    public Task<IActionResult> ModelVersionMetadata(
        [HttpTrigger(AuthorizationLevel.Function, "get", Route = ApiRoutes.V2ModelVersion)] HttpRequest request,
        string name,
        string version) =>
        api.ModelMetadataAsync(name, version).AsAction();

    [Function("V2ModelReady")]
    public Task<IActionResult> ModelReady(
        [HttpTrigger(AuthorizationLevel.Anonymous, "get", Route = ApiRoutes.V2ModelReady)] HttpRequest request,
        string name,
        CancellationToken cancellationToken) =>
        api.ModelReadyAsync(name, null, cancellationToken).AsAction();

    [Function("V2ModelVersionReady")]
    public Task<IActionResult> ModelVersionReady(
        [HttpTrigger(AuthorizationLevel.Anonymous, "get", Route = ApiRoutes.V2ModelVersionReady)] HttpRequest request,
        string name,
        string version,
        CancellationToken cancellationToken) =>
        api.ModelReadyAsync(name, version, cancellationToken).AsAction();

    [Function("V2ModelInfer")]
    public Task<IActionResult> Infer(
        [HttpTrigger(AuthorizationLevel.Function, "post", Route = ApiRoutes.V2Infer)] HttpRequest request,
        string name,
        CancellationToken cancellationToken) =>
        api.InferAsync(request, name, null, cancellationToken).AsAction();

    [Function("V2ModelVersionInfer")]
    public Task<IActionResult> VersionInfer(
        [HttpTrigger(AuthorizationLevel.Function, "post", Route = ApiRoutes.V2VersionInfer)] HttpRequest request,
        string name,
        string version,
        CancellationToken cancellationToken) =>
        api.InferAsync(request, name, version, cancellationToken).AsAction();
}

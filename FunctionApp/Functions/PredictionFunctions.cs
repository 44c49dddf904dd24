using FunctionApp.Api;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Azure.Functions.Worker;

namespace FunctionApp.Functions;

/// <summary>The <c>/api</c> routes: classify images, describe models, report health.</summary>
public sealed class PredictionFunctions(PredictionApi api)
{
    [Function("Predict")]
    public Task<IActionResult> Predict(
        [HttpTrigger(AuthorizationLevel.Function, "post", Route = ApiRoutes.Predict)] HttpRequest request,
        CancellationToken cancellationToken) =>
        api.PredictAsync(request, cancellationToken).AsAction();

    [Function("ListModels")]
    public Task<IActionResult> ListModels(
        [HttpTrigger(AuthorizationLevel.Function, "get", Route = ApiRoutes.Models)] HttpRequest request) =>
        api.ListModelsAsync().AsAction();

    [Function("GetModel")]
    public Task<IActionResult> GetModel(
        [HttpTrigger(AuthorizationLevel.Function, "get", Route = ApiRoutes.Model)] HttpRequest request,
        string name) =>
        api.GetModelAsync(name).AsAction();

    [Function("StartChain")]
    public Task<IActionResult> StartChain(
        [HttpTrigger(AuthorizationLevel.Function, "post", Route = ApiRoutes.Chains)] HttpRequest request,
        CancellationToken cancellationToken) =>
        api.StartChainAsync(request, cancellationToken).AsAction();

    [Function("GetChain")]
    public Task<IActionResult> GetChain(
        [HttpTrigger(AuthorizationLevel.Function, "get", Route = ApiRoutes.Chain)] HttpRequest request,
        string id,
        CancellationToken cancellationToken) =>
        api.GetChainAsync(id, cancellationToken).AsAction();

    [Function("GetBatch")]
    public Task<IActionResult> GetBatch(
        [HttpTrigger(AuthorizationLevel.Function, "get", Route = ApiRoutes.Batches)] HttpRequest request,
        CancellationToken cancellationToken) =>
        api.GetBatchAsync(request, cancellationToken).AsAction();

    [Function("HealthLive")]
    public static IActionResult HealthLive(
        [HttpTrigger(AuthorizationLevel.Anonymous, "get", Route = ApiRoutes.HealthLive)] HttpRequest request) =>
        PredictionApi.Live().AsAction();

    [Function("OpenApi")]
    public static IActionResult OpenApi(
        [HttpTrigger(AuthorizationLevel.Anonymous, "get", Route = ApiRoutes.OpenApi)] HttpRequest request) =>
        PredictionApi.OpenApiDocument().AsAction();

    [Function("HealthReady")]
    public Task<IActionResult> HealthReady(
        [HttpTrigger(AuthorizationLevel.Anonymous, "get", Route = ApiRoutes.HealthReady)] HttpRequest request,
        CancellationToken cancellationToken) =>
        api.ReadyAsync(cancellationToken).AsAction();
}

using FunctionApp.Api.OpenInference;
using FunctionApp.Api;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;

namespace FunctionApp.Hosting;

/// <summary>
/// The same routes, JSON and services as the function app, on Kestrel without the Functions host: for
/// local use where Core Tools is missing and as a plain container (Cloud Run, Container Apps, Kubernetes).
/// </summary>
public static class SelfHostedServer
{
    public const string DefaultUrls = "http://127.0.0.1:7071";

    /// <summary>Where <c>serve</c> shows its metrics in the Prometheus text format (behind the API key when one is set).</summary>
    public const string MetricsPath = "/metrics";

    /// <param name="preloadDefaultModel">
    /// Start loading the default model (when <c>Models:WarmUp</c> is <c>Eager</c>) before the server is even built, as
    /// <c>serve</c> does; see <see cref="Models.ModelPreload"/>.
    /// </param>
    public static WebApplication Build(string[] args, string? urls = null, Action<WebApplicationBuilder>? configure = null, bool preloadDefaultModel = false)
    {
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = args, ContentRootPath = AppContext.BaseDirectory });
        builder.WebHost.UseUrls(urls ?? DefaultUrls);

        // Defaults that any other setting overrides: the framework's per-request lines stay out of the console,
        // its warnings and errors and the app's own lines stay in (Logging__LogLevel__Microsoft.AspNetCore=Information brings them back);
        // the default model loads while the server starts, not on the first request (Models__WarmUp=Lazy to defer it).
        builder.Configuration.Sources.Insert(0, new Microsoft.Extensions.Configuration.Memory.MemoryConfigurationSource
        {
            InitialData = new Dictionary<string, string?>
            {
                ["Logging:LogLevel:Microsoft.AspNetCore"] = "Warning",
                ["Models:WarmUp"] = nameof(Models.ModelWarmUp.Eager),
            },
        });
        if (preloadDefaultModel)
            Models.ModelPreload.Start(builder.Configuration);
        builder.Services.AddServing();
        builder.Services.AddSingleton<ApiKeyFilter>();
        builder.Services.AddOptions<Microsoft.AspNetCore.Server.Kestrel.Core.KestrelServerOptions>()
            .Configure<IOptions<ApiOptions>>((kestrel, api) => kestrel.Limits.MaxRequestBodySize = api.Value.MaxRequestBytes + (1024 * 1024));
        configure?.Invoke(builder);

        // After the caller's configuration, which may add the storage connection.
        if (TriggerEngine.IsWanted(builder.Configuration))
            TriggerEngine.Add(builder.Services, builder.Configuration, builder.Logging);

        // After the caller's configuration: which exporters run depends on the settings.
        builder.Services.AddInferenceTelemetry(builder.Configuration)
            .ConfigureResource(resource => resource.AddService("image-inference"))
            .WithTracing(tracing => tracing.AddAspNetCoreInstrumentation())
            .WithMetrics(metrics => metrics.AddAspNetCoreInstrumentation().AddPrometheusExporter());

        var app = builder.Build();
        app.UseExceptionHandler();
        app.UseStatusCodePages();
        MapRoutes(app);
        app.MapPrometheusScrapingEndpoint(MetricsPath, meterProvider: null, configureBranchedPipeline: RequireApiKey, optionsName: null);
        return app;
    }

    private static void RequireApiKey(IApplicationBuilder metrics) => metrics.Use(async (context, next) =>
    {
        if (context.RequestServices.GetRequiredService<ApiKeyFilter>().Allows(context.Request))
            await next(context);
        else
            await ApiKeyFilter.Unauthorized().ExecuteAsync(context);
    });

    /// <summary>Maps every route in <see cref="ApiRoutes.All"/>; key-protected ones go through <see cref="ApiKeyFilter"/>.</summary>
    public static void MapRoutes(IEndpointRouteBuilder endpoints)
    {
        var open = endpoints.MapGroup(string.Empty);
        var keyed = endpoints.MapGroup(string.Empty).AddEndpointFilter<ApiKeyFilter>();
        RouteGroupBuilder For(string name) => ApiRoutes.All.Single(r => r.Name == name).Anonymous ? open : keyed;

        For("Predict").MapPost(ApiRoutes.Predict, (HttpRequest r, PredictionApi api, CancellationToken ct) => api.PredictAsync(r, ct)).WithName("Predict");
        For("ListModels").MapGet(ApiRoutes.Models, (PredictionApi api) => api.ListModelsAsync()).WithName("ListModels");
        For("GetModel").MapGet(ApiRoutes.Model, (string name, PredictionApi api) => api.GetModelAsync(name)).WithName("GetModel");
        For("StartChain").MapPost(ApiRoutes.Chains, (HttpRequest r, PredictionApi api, CancellationToken ct) => api.StartChainAsync(r, ct)).WithName("StartChain");
        For("GetChain").MapGet(ApiRoutes.Chain, (string id, PredictionApi api, CancellationToken ct) => api.GetChainAsync(id, ct)).WithName("GetChain");
        For("GetBatch").MapGet(ApiRoutes.Batches, (HttpRequest r, PredictionApi api, CancellationToken ct) => api.GetBatchAsync(r, ct)).WithName("GetBatch");
        For("OpenApi").MapGet(ApiRoutes.OpenApi, PredictionApi.OpenApiDocument).WithName("OpenApi");
        For("TryIt").MapGet(ApiRoutes.TryIt, TryItPage.Get).WithName("TryIt");
        For("HealthLive").MapGet(ApiRoutes.HealthLive, PredictionApi.Live).WithName("HealthLive");
        For("HealthReady").MapGet(ApiRoutes.HealthReady, (PredictionApi api, CancellationToken ct) => api.ReadyAsync(ct)).WithName("HealthReady");

        For("V2ServerMetadata").MapGet(ApiRoutes.V2Server, OpenInferenceApi.ServerMetadata).WithName("V2ServerMetadata");
        For("V2ServerLive").MapGet(ApiRoutes.V2Live, OpenInferenceApi.ServerLive).WithName("V2ServerLive");
        For("V2ServerReady").MapGet(ApiRoutes.V2Ready, (OpenInferenceApi api, CancellationToken ct) => api.ServerReadyAsync(ct)).WithName("V2ServerReady");
        For("V2ModelMetadata").MapGet(ApiRoutes.V2Model, (string name, OpenInferenceApi api) => api.ModelMetadataAsync(name, null)).WithName("V2ModelMetadata");
        For("V2ModelVersionMetadata").MapGet(ApiRoutes.V2ModelVersion, (string name, string version, OpenInferenceApi api) => api.ModelMetadataAsync(name, version)).WithName("V2ModelVersionMetadata");
        For("V2ModelReady").MapGet(ApiRoutes.V2ModelReady, (string name, OpenInferenceApi api, CancellationToken ct) => api.ModelReadyAsync(name, null, ct)).WithName("V2ModelReady");
        For("V2ModelVersionReady").MapGet(ApiRoutes.V2ModelVersionReady, (string name, string version, OpenInferenceApi api, CancellationToken ct) => api.ModelReadyAsync(name, version, ct)).WithName("V2ModelVersionReady");
        For("V2ModelInfer").MapPost(ApiRoutes.V2Infer, (HttpRequest r, string name, OpenInferenceApi api, CancellationToken ct) => api.InferAsync(r, name, null, ct)).WithName("V2ModelInfer");
        For("V2ModelVersionInfer").MapPost(ApiRoutes.V2VersionInfer, (HttpRequest r, string name, string version, OpenInferenceApi api, CancellationToken ct) => api.InferAsync(r, name, version, ct)).WithName("V2ModelVersionInfer");
    }
}

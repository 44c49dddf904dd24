using FunctionApp.Api.OpenInference;
using FunctionApp.Api;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Configuration;
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
        // Defaults that any other setting overrides: the framework's per-request lines stay out of the console,
        // its warnings and errors and the app's own lines stay in (Logging__LogLevel__Microsoft.AspNetCore=Information brings them back);
        // the default model loads while the server starts, not on the first request (Models__WarmUp=Lazy to defer it).
        var defaults = new Dictionary<string, string?>
        {
            ["Logging:LogLevel:Microsoft.AspNetCore"] = "Warning",
            ["Models:WarmUp"] = nameof(Models.ModelWarmUp.Eager),
        };

        // The preload starts before the web host's builder exists, from the settings that say what to load, read as
        // the builder reads them (these defaults, then the environment, then the command line). Where the host ends up
        // with other settings (user secrets in Development), it does not take the preload and loads the model itself.
        if (preloadDefaultModel)
            Models.ModelPreload.Start(new ConfigurationBuilder().AddInMemoryCollection(defaults).AddEnvironmentVariables().AddCommandLine(args).Build());

        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = args, ContentRootPath = AppContext.BaseDirectory });
        builder.WebHost.UseUrls(urls ?? DefaultUrls);

        builder.Configuration.Sources.Insert(0, new Microsoft.Extensions.Configuration.Memory.MemoryConfigurationSource { InitialData = defaults });
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

    /// <summary>
    /// Maps every route in <see cref="ApiRoutes.All"/>; key-protected ones check <see cref="ApiKeyFilter"/> first. Each
    /// handler is a plain request delegate: minimal-API handlers would have ASP.NET Core compile a binding expression
    /// per route when the first request arrives (about 65 ms of CPU during a cold start, measured by profiling).
    /// </summary>
    public static void MapRoutes(IEndpointRouteBuilder endpoints)
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        var handlers = new Dictionary<string, Func<HttpContext, Task<IResult>>>(StringComparer.Ordinal)
        {
            ["Predict"] = c => Service<PredictionApi>(c).PredictAsync(c.Request, c.RequestAborted),
            ["ListModels"] = c => Service<PredictionApi>(c).ListModelsAsync(),
            ["GetModel"] = c => Service<PredictionApi>(c).GetModelAsync(Route(c, "name")),
            ["StartChain"] = c => Service<PredictionApi>(c).StartChainAsync(c.Request, c.RequestAborted),
            ["GetChain"] = c => Service<PredictionApi>(c).GetChainAsync(Route(c, "id"), c.RequestAborted),
            ["GetBatch"] = c => Service<PredictionApi>(c).GetBatchAsync(c.Request, c.RequestAborted),
            ["OpenApi"] = _ => Task.FromResult(PredictionApi.OpenApiDocument()),
            ["TryIt"] = _ => Task.FromResult(TryItPage.Get()),
            ["HealthLive"] = _ => Task.FromResult(PredictionApi.Live()),
            ["HealthReady"] = c => Service<PredictionApi>(c).ReadyAsync(c.RequestAborted),
            ["V2ServerMetadata"] = _ => Task.FromResult(OpenInferenceApi.ServerMetadata()),
            ["V2ServerLive"] = _ => Task.FromResult(OpenInferenceApi.ServerLive()),
            ["V2ServerReady"] = c => Service<OpenInferenceApi>(c).ServerReadyAsync(c.RequestAborted),
            ["V2ModelMetadata"] = c => Service<OpenInferenceApi>(c).ModelMetadataAsync(Route(c, "name"), null),
            ["V2ModelVersionMetadata"] = c => Service<OpenInferenceApi>(c).ModelMetadataAsync(Route(c, "name"), Route(c, "version")),
            ["V2ModelReady"] = c => Service<OpenInferenceApi>(c).ModelReadyAsync(Route(c, "name"), null, c.RequestAborted),
            ["V2ModelVersionReady"] = c => Service<OpenInferenceApi>(c).ModelReadyAsync(Route(c, "name"), Route(c, "version"), c.RequestAborted),
            ["V2ModelInfer"] = c => Service<OpenInferenceApi>(c).InferAsync(c.Request, Route(c, "name"), null, c.RequestAborted),
            ["V2ModelVersionInfer"] = c => Service<OpenInferenceApi>(c).InferAsync(c.Request, Route(c, "name"), Route(c, "version"), c.RequestAborted),
        };

        foreach (var route in ApiRoutes.All)
        {
            // The pattern as a group would have made it (a leading slash): http.route in metrics and traces says "/api/predict".
            var handler = handlers[route.Name];
            bool open = route.Anonymous;
            endpoints.MapMethods("/" + route.Template, [route.Method.ToUpperInvariant()], async context =>
            {
                var result = open || context.RequestServices.GetRequiredService<ApiKeyFilter>().Allows(context.Request)
                    ? await handler(context)
                    : ApiKeyFilter.Unauthorized();
                await result.ExecuteAsync(context);
            }).WithName(route.Name);
        }
    }

    private static T Service<T>(HttpContext context)
        where T : notnull => context.RequestServices.GetRequiredService<T>();

    private static string Route(HttpContext context, string name) => (string)context.Request.RouteValues[name]!;
}

using Microsoft.Azure.Functions.Worker.Builder;
using Microsoft.Azure.Functions.Worker.OpenTelemetry;
using Microsoft.Extensions.Hosting;

namespace FunctionApp.Hosting;

/// <summary>The Functions isolated worker: what the Functions host launches. Its composition root.</summary>
public static class FunctionsWorkerHost
{
    /// <param name="args">The arguments the Functions host launched the worker with.</param>
    /// <param name="preloadDefaultModel">
    /// Start loading the default model (when <c>Models:WarmUp</c> is <c>Eager</c>) before the worker is even built, as
    /// the worker's own start does; see <see cref="Models.ModelPreload"/>.
    /// </param>
    public static IHost Build(string[] args, bool preloadDefaultModel = false) => Compose(args, preloadDefaultModel).Build();

    /// <summary>Every registration of the worker, before the host is built.</summary>
    public static FunctionsApplicationBuilder Compose(string[] args, bool preloadDefaultModel = false)
    {
        var builder = FunctionsApplication.CreateBuilder(args);
        if (preloadDefaultModel)
            Models.ModelPreload.Start(builder.Configuration);
        builder.ConfigureFunctionsWebApplication();
        builder.UseMiddleware<WorkerLogging.InvocationMarker>();
        WorkerLogging.Configure(builder.Services, builder.Logging, builder.Configuration, TelemetryServiceCollectionExtensions.HasExporters(builder.Configuration));
        builder.Services.AddServing();
        builder.Services.AddInferenceTelemetry(builder.Configuration).UseFunctionsWorkerDefaults();
        return builder;
    }
}

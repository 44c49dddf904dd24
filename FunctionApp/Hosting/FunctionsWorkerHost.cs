using Microsoft.Azure.Functions.Worker.Builder;
using Microsoft.Azure.Functions.Worker.OpenTelemetry;
using Microsoft.Extensions.Hosting;

namespace FunctionApp.Hosting;

/// <summary>The Functions isolated worker: what the Functions host launches. Its composition root.</summary>
public static class FunctionsWorkerHost
{
    public static IHost Build(string[] args) => Compose(args).Build();

    /// <summary>Every registration of the worker, before the host is built.</summary>
    public static FunctionsApplicationBuilder Compose(string[] args)
    {
        var builder = FunctionsApplication.CreateBuilder(args);
        builder.ConfigureFunctionsWebApplication();
        builder.UseMiddleware<WorkerLogging.InvocationMarker>();
        WorkerLogging.Configure(builder.Services, builder.Logging, builder.Configuration, TelemetryServiceCollectionExtensions.HasExporters(builder.Configuration));
        builder.Services.AddServing();
        builder.Services.AddInferenceTelemetry(builder.Configuration).UseFunctionsWorkerDefaults();
        return builder;
    }
}

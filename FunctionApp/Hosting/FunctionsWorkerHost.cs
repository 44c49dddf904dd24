using Microsoft.Azure.Functions.Worker.Builder;
using Microsoft.Azure.Functions.Worker.OpenTelemetry;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
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
        // The preload starts before the worker's builder exists (building it reads its configuration and sets up
        // logging, about 100 ms), from the sources that say what to load as the builder reads them: the environment,
        // then the command line (the app ships no appsettings files). Where the host ends up with other settings, it
        // does not take the preload and loads the model itself.
        if (preloadDefaultModel)
            Models.ModelPreload.Start(new ConfigurationBuilder().AddEnvironmentVariables().AddCommandLine(args).Build());
        var builder = FunctionsApplication.CreateBuilder(args);
        builder.ConfigureFunctionsWebApplication();
        WithoutEagerKeyRing(builder.Services);
        builder.UseMiddleware<WorkerLogging.InvocationMarker>();
        WorkerLogging.Configure(builder.Services, builder.Logging, builder.Configuration, TelemetryServiceCollectionExtensions.HasExporters(builder.Configuration));
        builder.Services.AddServing();
        builder.Services.AddInferenceTelemetry(builder.Configuration).UseFunctionsWorkerDefaults();
        return builder;
    }

    /// <summary>
    /// The ASP.NET Core integration registers MVC, and with it ASP.NET Core data protection, whose hosted service loads
    /// (or first creates) the key ring from disk while the host starts: about 130 ms on the worker's start path here,
    /// for keys that nothing in the app uses (no cookies, no antiforgery). Without the service the key ring is loaded
    /// on its first use instead, which never comes.
    /// </summary>
    internal static void WithoutEagerKeyRing(IServiceCollection services)
    {
        var eager = services.Where(d => d.ServiceType == typeof(IHostedService)
            && d.ImplementationType?.FullName == "Microsoft.AspNetCore.DataProtection.Internal.DataProtectionHostedService").ToList();
        foreach (var descriptor in eager)
            services.Remove(descriptor);
    }
}

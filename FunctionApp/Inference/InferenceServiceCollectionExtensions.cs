using FunctionApp.Telemetry;
using Microsoft.Extensions.DependencyInjection;

namespace FunctionApp.Inference;

public static class InferenceServiceCollectionExtensions
{
    /// <summary>
    /// Model execution: the engine-pool and ONNX Runtime settings (validated at start), the inference metrics and
    /// the process-wide engine pools. Nothing loads here; a model loads when its pool is first used.
    /// </summary>
    public static IServiceCollection AddModelExecution(this IServiceCollection services)
    {
        services.AddOptions<EnginePoolOptions>().BindConfiguration(EnginePoolOptions.SectionName).ValidateDataAnnotations().ValidateOnStart();
        services.AddOptions<OnnxRuntimeOptions>().BindConfiguration(OnnxRuntimeOptions.SectionName).ValidateDataAnnotations().ValidateOnStart();
        services.AddSingleton<Microsoft.Extensions.Options.IPostConfigureOptions<OnnxRuntimeOptions>, MatchThreadsToEngines>();
        services.AddMetrics();
        services.AddSingleton<InferenceMetrics>();
        services.AddSingleton<EnginePoolRegistry>();
        return services;
    }
}

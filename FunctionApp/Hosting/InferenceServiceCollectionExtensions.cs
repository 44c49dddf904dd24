using FunctionApp.Imaging;
using FunctionApp.Inference;
using FunctionApp.Telemetry;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace FunctionApp.Hosting;

public static class InferenceServiceCollectionExtensions
{
    /// <summary>
    /// Registers the inference services every host shares: options bound from configuration and
    /// validated at start, the preprocessing suite, the model catalog and the process-wide engine pools.
    /// Nothing is loaded here; models load on first use.
    /// </summary>
    public static IServiceCollection AddInference(this IServiceCollection services)
    {
        services.AddOptions<ModelsOptions>().BindConfiguration(ModelsOptions.SectionName).ValidateDataAnnotations().ValidateOnStart();
        services.AddOptions<EnginePoolOptions>().BindConfiguration(EnginePoolOptions.SectionName).ValidateDataAnnotations().ValidateOnStart();
        services.AddOptions<OnnxRuntimeOptions>().BindConfiguration(OnnxRuntimeOptions.SectionName).ValidateDataAnnotations().ValidateOnStart();
        services.AddSingleton<Microsoft.Extensions.Options.IPostConfigureOptions<OnnxRuntimeOptions>, MatchThreadsToEngines>();
        services.AddOptions<ImageLimitsOptions>().BindConfiguration(ImageLimitsOptions.SectionName).ValidateDataAnnotations().ValidateOnStart();
        services.AddOptions<PredictionOptions>().BindConfiguration(PredictionOptions.SectionName).ValidateDataAnnotations().ValidateOnStart();

        services.AddMetrics();
        services.AddSingleton<InferenceMetrics>();
        services.AddSingleton<ImageDecoder>();
        services.AddSingleton<DecodeBudget>();
        services.AddHostedService<MemoryTrimmer>();
        services.TryAddSingleton(TimeProvider.System);
        services.AddSingleton<ImagePreprocessor>();
        services.AddSingleton<ModelCatalog>();
        services.AddSingleton<EnginePoolRegistry>();
        services.AddSingleton<ImageClassifier>();
        return services;
    }
}

using Microsoft.Extensions.DependencyInjection;

namespace FunctionApp.Classification;

public static class ClassificationServiceCollectionExtensions
{
    /// <summary>The classifier every door calls, with the prediction settings validated at start.</summary>
    public static IServiceCollection AddClassification(this IServiceCollection services)
    {
        services.AddOptions<PredictionOptions>().BindConfiguration(PredictionOptions.SectionName).ValidateDataAnnotations().ValidateOnStart();
        services.AddSingleton<ImageClassifier>();
        return services;
    }

    /// <summary>
    /// For a serving host: the readiness health check (tagged <see cref="ModelReadinessCheck.Tag"/>) and the eager
    /// warm-up that runs it at start when <c>Models:WarmUp=Eager</c>.
    /// </summary>
    public static IServiceCollection AddReadiness(this IServiceCollection services)
    {
        services.AddSingleton<ModelReadinessCheck>();
        services.AddHealthChecks().AddCheck<ModelReadinessCheck>("default-model", tags: [ModelReadinessCheck.Tag]);
        services.AddHostedService<ModelWarmUpService>();
        return services;
    }
}

using FunctionApp.Api.OpenInference;
using FunctionApp.Batch;
using Microsoft.Extensions.DependencyInjection;

namespace FunctionApp.Api;

public static class HttpApiServiceCollectionExtensions
{
    /// <summary>The HTTP API's handlers, shared by the Functions host and <c>serve</c>.</summary>
    public static IServiceCollection AddHttpApi(this IServiceCollection services)
    {
        services.AddBlobProcessing(); // chains run through storage
        services.AddOptions<ApiOptions>().BindConfiguration(ApiOptions.SectionName).ValidateDataAnnotations().ValidateOnStart();
        services.AddProblemDetails();
        services.AddSingleton<Microsoft.Extensions.Options.IValidateOptions<Inference.ModelsOptions>, Inference.DefaultModelValidator>(); // requests may name no model

        services.AddSingleton<PredictRequestReader>();
        services.AddSingleton<ModelDescriptions>();
        services.AddSingleton<ReadinessProbe>();
        services.AddSingleton<PredictionApi>();
        services.AddSingleton<OpenInferenceApi>();
        services.AddHostedService<ModelWarmUpService>();
        services.AddSingleton<Inference.ModelRefreshService>();
        services.AddHostedService(sp => sp.GetRequiredService<Inference.ModelRefreshService>());
        return services;
    }
}

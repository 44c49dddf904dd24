using FunctionApp.Api.OpenInference;
using Microsoft.Extensions.DependencyInjection;

namespace FunctionApp.Api;

public static class ApiServiceCollectionExtensions
{
    /// <summary>The HTTP API's handlers (the app's routes and the Open Inference Protocol), shared by the Functions host and <c>serve</c>.</summary>
    public static IServiceCollection AddHttpApi(this IServiceCollection services)
    {
        services.AddOptions<ApiOptions>().BindConfiguration(ApiOptions.SectionName).ValidateDataAnnotations().ValidateOnStart();
        services.AddProblemDetails();
        services.AddSingleton<PredictRequestReader>();
        services.AddSingleton<ModelDescriptions>();
        services.AddSingleton<PredictionApi>();
        services.AddSingleton<OpenInferenceApi>();
        return services;
    }
}

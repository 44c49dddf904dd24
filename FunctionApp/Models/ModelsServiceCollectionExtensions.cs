using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace FunctionApp.Models;

public static class ModelsServiceCollectionExtensions
{
    /// <summary>The model catalog over the models root, with the model settings validated at start.</summary>
    public static IServiceCollection AddModelCatalog(this IServiceCollection services)
    {
        services.AddOptions<ModelsOptions>().BindConfiguration(ModelsOptions.SectionName).ValidateDataAnnotations().ValidateOnStart();
        services.AddSingleton<ModelCatalog>();
        return services;
    }

    /// <summary>
    /// For a host that answers requests naming no model: the start-up check that there is a default model and that
    /// every canary version exists (<see cref="DefaultModelValidator"/>).
    /// </summary>
    public static IServiceCollection AddDefaultModelValidation(this IServiceCollection services)
    {
        services.AddSingleton<IValidateOptions<ModelsOptions>, DefaultModelValidator>();
        return services;
    }

    /// <summary>
    /// Hot reload for a long-running host: the refresh service, and the blob model repository it copies newly
    /// published versions from (with <c>Models:Source=Blob</c>; needs the storage services).
    /// </summary>
    public static IServiceCollection AddModelRefresh(this IServiceCollection services)
    {
        services.AddSingleton<BlobModelRepository>();
        services.AddSingleton<IModelRepositorySync>(sp => sp.GetRequiredService<BlobModelRepository>());
        services.AddSingleton<ModelRefreshService>();
        services.AddHostedService(sp => sp.GetRequiredService<ModelRefreshService>());
        return services;
    }
}

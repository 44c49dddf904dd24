using FunctionApp.Imaging;
using FunctionApp.Storage;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace FunctionApp.Batch;

public static class BlobProcessingServiceCollectionExtensions
{
    /// <summary>
    /// The blob and queue flows' services, shared by the functions and <c>serve</c>'s triggers: the processors, the
    /// provisioning of the storage account at start, and the sweep that takes up inputs a trigger missed.
    /// </summary>
    public static IServiceCollection AddBlobProcessing(this IServiceCollection services)
    {
        services.AddOptions<StorageOptions>().BindConfiguration(StorageOptions.SectionName).ValidateDataAnnotations().ValidateOnStart();
        services.AddOptions<BatchOptions>().BindConfiguration(BatchOptions.SectionName).ValidateDataAnnotations().ValidateOnStart();
        services.AddOptions<PreprocessingOutputOptions>().BindConfiguration(PreprocessingOutputOptions.SectionName).ValidateDataAnnotations().ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<Microsoft.Extensions.Options.IValidateOptions<StorageOptions>, StorageOptionsValidator>());
        services.TryAddSingleton(TimeProvider.System);
        // Try-adds: the HTTP API (chains) and the hosts both register these; each service must exist once.
        services.TryAddSingleton<BlobStorage>();
        services.TryAddSingleton<InstanceIdentity>();
        services.TryAddSingleton<ImageBlobProcessor>();
        services.TryAddSingleton<BatchSources>();
        services.TryAddSingleton<BatchJobProcessor>();
        services.TryAddSingleton<BlobModelRepository>();
        services.TryAddSingleton<Decomposition.SliceChain>();
        services.TryAddSingleton<TriggerPoison>();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<Inference.IModelRepositorySync, BlobModelRepository>(sp => sp.GetRequiredService<BlobModelRepository>()));
        if (!services.Any(d => d.ServiceType == typeof(StorageProvisioner)))
        {
            services.AddSingleton<StorageProvisioner>();
            services.AddHostedService(sp => sp.GetRequiredService<StorageProvisioner>());
            services.AddSingleton<InputSweeper>();
            services.AddHostedService(sp => sp.GetRequiredService<InputSweeper>());
        }

        return services;
    }
}

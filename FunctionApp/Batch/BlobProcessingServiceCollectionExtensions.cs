using FunctionApp.Imaging;
using FunctionApp.Storage;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace FunctionApp.Batch;

public static class BlobProcessingServiceCollectionExtensions
{
    /// <summary>The blob flow's services, shared by the blob-triggered functions and <c>serve</c>'s watcher.</summary>
    public static IServiceCollection AddBlobProcessing(this IServiceCollection services)
    {
        services.AddOptions<StorageOptions>().BindConfiguration(StorageOptions.SectionName).ValidateDataAnnotations().ValidateOnStart();
        services.AddOptions<BatchOptions>().BindConfiguration(BatchOptions.SectionName).ValidateDataAnnotations().ValidateOnStart();
        services.AddOptions<PreprocessingOutputOptions>().BindConfiguration(PreprocessingOutputOptions.SectionName).ValidateDataAnnotations().ValidateOnStart();
        services.TryAddSingleton(TimeProvider.System);
        // Try-adds: the HTTP API (chains) and the hosts both register these; each service must exist once.
        services.TryAddSingleton<BlobStorage>();
        services.TryAddSingleton<ImageBlobProcessor>();
        services.TryAddSingleton<BatchJobProcessor>();
        services.TryAddSingleton<BlobModelRepository>();
        services.TryAddSingleton<Decomposition.SliceChain>();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<Inference.IModelRepositorySync, BlobModelRepository>(sp => sp.GetRequiredService<BlobModelRepository>()));
        return services;
    }
}

using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace FunctionApp.Storage;

public static class StorageServiceCollectionExtensions
{
    /// <summary>
    /// The storage account: its settings (validated at start), its clients (see <see cref="BlobStorage"/>: patient ones
    /// for background work, brief ones for requests a caller waits for, made on first use), and the provisioning that
    /// creates the containers and queues the app needs when the host starts.
    /// </summary>
    public static IServiceCollection AddStorage(this IServiceCollection services)
    {
        services.AddOptions<StorageOptions>().BindConfiguration(StorageOptions.SectionName).ValidateDataAnnotations().ValidateOnStart();
        services.AddSingleton<IValidateOptions<StorageOptions>, StorageOptionsValidator>();
        services.AddSingleton<BlobStorage>();
        services.AddSingleton<StorageProvisioner>();
        services.AddHostedService(sp => sp.GetRequiredService<StorageProvisioner>());
        return services;
    }
}

using Azure.Storage.Blobs;
using Azure.Storage.Queues;
using Microsoft.Extensions.Azure;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace FunctionApp.Storage;

public static class StorageServiceCollectionExtensions
{
    /// <summary>
    /// The storage account: its settings (validated at start), its blob and queue clients through
    /// <c>AddAzureClients</c> (patient ones for background work, brief ones for requests a caller waits for), and the
    /// provisioning that creates the containers and queues the app needs when the host starts.
    /// </summary>
    public static IServiceCollection AddStorage(this IServiceCollection services)
    {
        services.AddOptions<StorageOptions>().BindConfiguration(StorageOptions.SectionName).ValidateDataAnnotations().ValidateOnStart();
        services.AddSingleton<IValidateOptions<StorageOptions>, StorageOptionsValidator>();
        services.AddAzureClients(clients =>
        {
            clients.AddClient<BlobServiceClient, BlobClientOptions>((options, sp) => Blobs(sp, options))
                .WithName(BlobStorage.BackgroundClients)
                .ConfigureOptions((options, sp) => BlobStorage.Patient(options.Retry, Settings(sp).OutageTolerance));
            clients.AddClient<QueueServiceClient, QueueClientOptions>((options, sp) => Queues(sp, options))
                .WithName(BlobStorage.BackgroundClients)
                .ConfigureOptions((options, sp) => BlobStorage.Patient(options.Retry, Settings(sp).OutageTolerance));
            clients.AddClient<BlobServiceClient, BlobClientOptions>((options, sp) => Blobs(sp, options))
                .WithName(BlobStorage.InteractiveClients)
                .ConfigureOptions(options => BlobStorage.Brief(options.Retry));
            clients.AddClient<QueueServiceClient, QueueClientOptions>((options, sp) => Queues(sp, options))
                .WithName(BlobStorage.InteractiveClients)
                .ConfigureOptions(options => BlobStorage.Brief(options.Retry));
        });
        services.AddSingleton<BlobStorage>();
        services.AddSingleton<StorageProvisioner>();
        services.AddHostedService(sp => sp.GetRequiredService<StorageProvisioner>());
        return services;
    }

    private static StorageOptions Settings(IServiceProvider services) => services.GetRequiredService<IOptions<StorageOptions>>().Value;

    private static Connection Find(IServiceProvider services)
    {
        var name = Settings(services).Connection;
        return Connection.Find(services.GetRequiredService<IConfiguration>(), name)
            ?? throw new InvalidOperationException($"No storage connection is configured: set '{name}'.");
    }

    private static BlobServiceClient Blobs(IServiceProvider services, BlobClientOptions options)
    {
        var connection = Find(services);
        return connection.ConnectionString is { } text
            ? new BlobServiceClient(text, options)
            : new BlobServiceClient(connection.BlobServiceUri, connection.Credential(), options);
    }

    private static QueueServiceClient Queues(IServiceProvider services, QueueClientOptions options)
    {
        // Base64, as the queue triggers expect.
        options.MessageEncoding = QueueMessageEncoding.Base64;
        var connection = Find(services);
        return connection.ConnectionString is { } text
            ? new QueueServiceClient(text, options)
            : new QueueServiceClient(connection.QueueServiceUri, connection.Credential(), options);
    }
}

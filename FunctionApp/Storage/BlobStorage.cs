using Azure.Identity;
using Azure.Storage.Blobs;
using Azure.Storage.Queues;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Options;

namespace FunctionApp.Storage;

/// <summary>
/// The storage account the blob flow reads and writes, from the same connection setting the blob
/// triggers use, so the Functions host and <c>serve</c> always agree on the account.
/// </summary>
public sealed class BlobStorage
{
    private readonly Lazy<BlobServiceClient?> _service;
    private readonly Lazy<QueueServiceClient?> _queues;

    public BlobStorage(IConfiguration configuration, IOptions<StorageOptions> options)
    {
        Options = options.Value;
        _service = new Lazy<BlobServiceClient?>(() => Create(configuration, Options.Connection));
        _queues = new Lazy<QueueServiceClient?>(() => CreateQueues(configuration, Options.Connection));
    }

    /// <summary>Queues of the same account; messages are base64, as the Functions queue trigger expects.</summary>
    public QueueServiceClient Queues => _queues.Value
        ?? throw new InvalidOperationException($"No storage connection is configured: set '{Options.Connection}' (a connection string) or '{Options.Connection}__queueServiceUri'.");

    public BlobContainerClient Chains => Service.GetBlobContainerClient(StorageOptions.ChainsContainer);

    public StorageOptions Options { get; }

    /// <summary>Whether a connection is configured at all.</summary>
    public bool IsConfigured => _service.Value is not null;

    public BlobServiceClient Service => _service.Value
        ?? throw new InvalidOperationException($"No storage connection is configured: set '{Options.Connection}' (a connection string) or '{Options.Connection}__blobServiceUri'.");

    public BlobContainerClient Images => Service.GetBlobContainerClient(StorageOptions.ImagesContainer);
    public BlobContainerClient Predictions => Service.GetBlobContainerClient(StorageOptions.PredictionsContainer);
    public BlobContainerClient Preprocessed => Service.GetBlobContainerClient(StorageOptions.PreprocessedContainer);
    public BlobContainerClient Failed => Service.GetBlobContainerClient(StorageOptions.FailedContainer);
    public BlobContainerClient Batches => Service.GetBlobContainerClient(StorageOptions.BatchesContainer);

    /// <summary>Creates every container the flow uses (idempotent).</summary>
    public async Task EnsureContainersAsync(CancellationToken cancellationToken)
    {
        foreach (var container in new[] { Images, Predictions, Preprocessed, Failed, Batches })
            await container.CreateIfNotExistsAsync(cancellationToken: cancellationToken);
    }

    private static QueueServiceClient? CreateQueues(IConfiguration configuration, string name)
    {
        var options = new QueueClientOptions { MessageEncoding = QueueMessageEncoding.Base64 };
        var connectionString = configuration[name] ?? configuration.GetConnectionString(name);
        if (!string.IsNullOrWhiteSpace(connectionString))
            return new QueueServiceClient(connectionString, options);
        var section = configuration.GetSection(name);
        if (section["queueServiceUri"] is not { Length: > 0 } uri)
            return null;
        var credential = section["clientId"] is { Length: > 0 } clientId
            ? new DefaultAzureCredential(new DefaultAzureCredentialOptions { ManagedIdentityClientId = clientId })
            : new DefaultAzureCredential();
        return new QueueServiceClient(new Uri(uri), credential, options);
    }

    private static BlobServiceClient? Create(IConfiguration configuration, string name)
    {
        var connectionString = configuration[name] ?? configuration.GetConnectionString(name);
        if (!string.IsNullOrWhiteSpace(connectionString))
            return new BlobServiceClient(connectionString);

        var section = configuration.GetSection(name);
        var uri = section["blobServiceUri"] ?? section["serviceUri"];
        if (string.IsNullOrWhiteSpace(uri))
            return null;
        var credential = section["clientId"] is { Length: > 0 } clientId
            ? new DefaultAzureCredential(new DefaultAzureCredentialOptions { ManagedIdentityClientId = clientId })
            : new DefaultAzureCredential();
        return new BlobServiceClient(new Uri(uri), credential);
    }
}

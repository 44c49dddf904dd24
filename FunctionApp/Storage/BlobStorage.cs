using Azure.Core;
using Azure.Identity;
using Azure.Storage.Blobs;
using Azure.Storage.Queues;
using Microsoft.Extensions.Azure;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Options;

namespace FunctionApp.Storage;

/// <summary>
/// The storage account of the blob and queue flows, from the same connection setting the triggers use, so the
/// Functions host and <c>serve</c> always agree on the account. Two sets of clients, registered with
/// <c>AddAzureClients</c> under the names <see cref="BackgroundClients"/> and <see cref="InteractiveClients"/>:
/// background work (triggers, sweeps) rides out an outage of a minute or two with patient retries, so work in
/// flight finishes instead of failing its tries; a request that a caller waits for (<see cref="Interactive"/>)
/// gives up within seconds.
/// </summary>
public sealed class BlobStorage
{
    public const string BackgroundClients = "background";
    public const string InteractiveClients = "interactive";

    private readonly Lazy<(BlobServiceClient Blobs, QueueServiceClient Queues)> _background;
    private readonly Lazy<(BlobServiceClient Blobs, QueueServiceClient Queues)> _interactive;

    public BlobStorage(IConfiguration configuration, IOptions<StorageOptions> options, IAzureClientFactory<BlobServiceClient> blobs, IAzureClientFactory<QueueServiceClient> queues)
    {
        ArgumentNullException.ThrowIfNull(options);
        Options = options.Value;
        IsConfigured = Connection.Find(configuration, Options.Connection) is not null;
        _background = new(() => Clients(BackgroundClients));
        _interactive = new(() => Clients(InteractiveClients));

        (BlobServiceClient, QueueServiceClient) Clients(string name) =>
            IsConfigured ? (blobs.CreateClient(name), queues.CreateClient(name)) : throw NotConfigured();
    }

    /// <summary>Retries that outlast an outage of <paramref name="tolerance"/>: quickly at first, then every 5 s at most.</summary>
    public static void Patient(RetryOptions retry, TimeSpan tolerance)
    {
        ArgumentNullException.ThrowIfNull(retry);
        retry.Mode = RetryMode.Exponential;
        retry.Delay = TimeSpan.FromMilliseconds(200);
        retry.MaxDelay = TimeSpan.FromSeconds(5);
        retry.NetworkTimeout = TimeSpan.FromSeconds(30);

        // 0.2 + 0.4 + ... reaches the 5 s cap after about 6 s and 5 tries; every retry after that adds 5 s.
        retry.MaxRetries = tolerance <= TimeSpan.FromSeconds(6) ? (int)Math.Clamp(Math.Log2(tolerance.TotalSeconds / 0.2 + 1), 1, 5) : 5 + (int)Math.Ceiling((tolerance.TotalSeconds - 6) / 5);
    }

    /// <summary>One quick retry: a caller who waits learns within a few seconds that storage is unreachable.</summary>
    public static void Brief(RetryOptions retry)
    {
        ArgumentNullException.ThrowIfNull(retry);
        retry.Mode = RetryMode.Fixed;
        retry.MaxRetries = 1;
        retry.Delay = TimeSpan.FromMilliseconds(200);
        retry.NetworkTimeout = TimeSpan.FromSeconds(2);
    }

    public StorageOptions Options { get; }

    /// <summary>Whether a connection is configured at all.</summary>
    public bool IsConfigured { get; }

    public BlobServiceClient Service => _background.Value.Blobs;

    /// <summary>Queues of the same account; messages are base64, as the queue triggers expect.</summary>
    public QueueServiceClient Queues => _background.Value.Queues;

    /// <summary>The same account for work a caller waits for: short retries and timeouts.</summary>
    public (BlobServiceClient Blobs, QueueServiceClient Queues) Interactive => _interactive.Value;

    public BlobContainerClient Container(string name) => Service.GetBlobContainerClient(name);

    public BlobContainerClient Images => Container(StorageOptions.ImagesContainer);
    public BlobContainerClient Predictions => Container(StorageOptions.PredictionsContainer);
    public BlobContainerClient Preprocessed => Container(StorageOptions.PreprocessedContainer);
    public BlobContainerClient Thumbnails => Container(StorageOptions.ThumbnailsContainer);
    public BlobContainerClient Failed => Container(StorageOptions.FailedContainer);
    public BlobContainerClient Batches => Container(StorageOptions.BatchesContainer);
    public BlobContainerClient BatchResults => Container(StorageOptions.BatchResultsContainer);
    public BlobContainerClient Chains => Container(StorageOptions.ChainsContainer);
    public BlobContainerClient ChainImages => Container(StorageOptions.ChainImagesContainer);
    public BlobContainerClient ChainResults => Container(StorageOptions.ChainResultsContainer);

    public QueueClient Queue(string name) => Queues.GetQueueClient(name);

    private InvalidOperationException NotConfigured() =>
        new($"No storage connection is configured: set '{Options.Connection}' (a connection string) or '{Options.Connection}__blobServiceUri' and '{Options.Connection}__queueServiceUri'.");
}

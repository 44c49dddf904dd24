using Azure.Core;
using Azure.Storage.Blobs;
using Azure.Storage.Queues;
using Microsoft.Extensions.Azure;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace FunctionApp.Storage;

/// <summary>
/// The storage account of the blob and queue flows, from the same connection setting the triggers use, so the
/// Functions host and <c>serve</c> always agree on the account. Two sets of clients, each made on first use: background
/// work (triggers, sweeps) rides out an outage of a minute or two with patient retries, so work in flight finishes
/// instead of failing its tries; a request that a caller waits for (<see cref="Interactive"/>) gives up within seconds.
/// Nothing of the storage SDK is loaded before a client is asked for, so <c>serve</c> without a storage account does
/// not carry it (about 3.5 MB of its assemblies resident). The SDK's own log events go to the app's logging once the
/// first client is made, as <c>AddAzureClients</c> would have them.
/// </summary>
public sealed class BlobStorage
{
    private readonly Connection? _connection;
    private readonly Lazy<StorageClients> _background;
    private readonly Lazy<StorageClients> _interactive;
    private readonly ILoggerFactory _loggers;

    public BlobStorage(IConfiguration configuration, IOptions<StorageOptions> options, ILoggerFactory loggers)
    {
        ArgumentNullException.ThrowIfNull(options);
        Options = options.Value;
        _loggers = loggers;
        _connection = Connection.Find(configuration, Options.Connection);
        IsConfigured = _connection is not null;
        _background = new(() => Connect(patient: true));
        _interactive = new(() => Connect(patient: false));
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
    public (BlobServiceClient Blobs, QueueServiceClient Queues) Interactive => (_interactive.Value.Blobs, _interactive.Value.Queues);

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

    private StorageClients Connect(bool patient)
    {
        if (_connection is null)
            throw NotConfigured();
        LogForwarding.Start(_loggers);
        var blobOptions = new BlobClientOptions();
        var queueOptions = new QueueClientOptions { MessageEncoding = QueueMessageEncoding.Base64 };
        if (patient)
        {
            Patient(blobOptions.Retry, Options.OutageTolerance);
            Patient(queueOptions.Retry, Options.OutageTolerance);
        }
        else
        {
            Brief(blobOptions.Retry);
            Brief(queueOptions.Retry);
        }

        return _connection.ConnectionString is { } text
            ? new StorageClients(new BlobServiceClient(text, blobOptions), new QueueServiceClient(text, queueOptions))
            : new StorageClients(
                new BlobServiceClient(_connection.BlobServiceUri, _connection.Credential(), blobOptions),
                new QueueServiceClient(_connection.QueueServiceUri, _connection.Credential(), queueOptions));
    }

    private InvalidOperationException NotConfigured() =>
        new($"No storage connection is configured: set '{Options.Connection}' (a connection string) or '{Options.Connection}__blobServiceUri' and '{Options.Connection}__queueServiceUri'.");
}

/// <summary>A blob and a queue client of one account; a class, so that holding one loads nothing of the SDK.</summary>
internal sealed class StorageClients(BlobServiceClient blobs, QueueServiceClient queues)
{
    public BlobServiceClient Blobs { get; } = blobs;

    public QueueServiceClient Queues { get; } = queues;
}

/// <summary>The storage SDK's event source logs forwarded to the app's logging, once per process.</summary>
internal static class LogForwarding
{
    private static AzureEventSourceLogForwarder? _forwarder;

    public static void Start(ILoggerFactory loggers)
    {
        if (Volatile.Read(ref _forwarder) is not null)
            return;
        var forwarder = new AzureEventSourceLogForwarder(loggers);
        if (Interlocked.CompareExchange(ref _forwarder, forwarder, null) is null)
            forwarder.Start();
        else
            forwarder.Dispose();
    }
}

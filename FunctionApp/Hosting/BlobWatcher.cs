using System.Collections.Concurrent;
using FunctionApp.Batch;
using FunctionApp.Storage;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace FunctionApp.Hosting;

/// <summary>
/// <c>serve</c>'s stand-in for the blob triggers: scans <c>images/</c> and <c>batches/</c> and hands each new
/// or changed blob to the same processors the functions call. The processors are idempotent, so a blob seen
/// twice (or processed before a restart) is answered once.
/// </summary>
public sealed partial class BlobWatcher(
    BlobStorage storage,
    ImageBlobProcessor images,
    BatchJobProcessor batches,
    IOptions<StorageOptions> options,
    ILogger<BlobWatcher> logger) : BackgroundService
{
    private readonly ConcurrentDictionary<string, string> _seen = new(StringComparer.Ordinal);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (!options.Value.Watch || !storage.IsConfigured)
        {
            LogNotWatching(options.Value.Connection);
            return;
        }

        LogWatching(options.Value.PollInterval.TotalSeconds);
        using var timer = new PeriodicTimer(options.Value.PollInterval);
        bool containersReady = false;
        do
        {
            // A storage outage must not take the HTTP API down with it: log, and try again next tick.
            try
            {
                if (!containersReady)
                {
                    await storage.EnsureContainersAsync(stoppingToken);
                    containersReady = true;
                }

                await ScanAsync(stoppingToken);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                LogScanFailed(ex, ex.Message);
            }
        }
        while (await timer.WaitForNextTickAsync(stoppingToken));
    }

    /// <summary>One pass over both containers; returns when every new blob has been processed.</summary>
    public async Task ScanAsync(CancellationToken cancellationToken)
    {
        var newImages = new List<string>();
        await foreach (var blob in storage.Images.GetBlobsAsync(cancellationToken: cancellationToken))
        {
            if (IsNew("images/" + blob.Name, blob.Properties.ETag?.ToString()))
                newImages.Add(blob.Name);
        }

        await Parallel.ForEachAsync(newImages, new ParallelOptions { MaxDegreeOfParallelism = Environment.ProcessorCount, CancellationToken = cancellationToken }, async (name, ct) =>
            Remember("images/" + name, await images.ProcessAsync(name, ct)));

        await foreach (var blob in storage.Batches.GetBlobsAsync(cancellationToken: cancellationToken))
        {
            if (IsNew("batches/" + blob.Name, blob.Properties.ETag?.ToString()))
                Remember("batches/" + blob.Name, await batches.ProcessAsync(blob.Name, cancellationToken));
        }

        bool IsNew(string key, string? etag)
        {
            if (etag is null || (_seen.TryGetValue(key, out var seen) && seen == etag))
                return false;
            _seen[key] = etag;
            return true;
        }

        void Remember(string key, BlobOutcome outcome)
        {
            if (outcome == BlobOutcome.Missing)
                _seen.TryRemove(key, out _);
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Watching the images and batches containers every {Seconds} s")]
    private partial void LogWatching(double seconds);

    [LoggerMessage(Level = LogLevel.Information, Message = "Not watching blob containers: no storage connection '{Connection}' is configured")]
    private partial void LogNotWatching(string connection);

    [LoggerMessage(Level = LogLevel.Error, Message = "Scanning the blob containers failed: {Reason}")]
    private partial void LogScanFailed(Exception exception, string reason);
}

using System.Text.Json;
using FunctionApp.Api;
using FunctionApp.Storage;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace FunctionApp.Decomposition;

/// <summary>
/// <c>serve</c>'s stand-in for the queue-triggered step function: takes chain steps from the queue and runs them
/// with the same <see cref="SliceChain"/>. A message is deleted only after its step succeeded; a step that keeps
/// failing (five tries, as the Functions host's poison threshold) marks its chain failed.
/// </summary>
public sealed partial class ChainWorker(SliceChain chain, BlobStorage storage, ILogger<ChainWorker> logger) : BackgroundService
{
    private const int MaxTries = 5;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (!storage.IsConfigured || !storage.Options.Watch)
            return;
        using var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(250));
        bool ready = false;
        do
        {
            try
            {
                if (!ready)
                {
                    await chain.EnsureAsync(stoppingToken);
                    ready = true;
                }

                await DrainAsync(stoppingToken);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                LogPollFailed(ex, ex.Message);
            }
        }
        while (await timer.WaitForNextTickAsync(stoppingToken));
    }

    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, string> _seen = new(StringComparer.Ordinal);

    /// <summary>Starts chains for new blobs in <c>chain-images/</c>, then runs queued steps until the queue is empty.</summary>
    public async Task DrainAsync(CancellationToken cancellationToken)
    {
        var dropped = storage.Service.GetBlobContainerClient(StorageOptions.ChainImagesContainer);
        await foreach (var blob in dropped.GetBlobsAsync(Azure.Storage.Blobs.Models.BlobTraits.None, Azure.Storage.Blobs.Models.BlobStates.None, null, cancellationToken))
        {
            var etag = blob.Properties.ETag?.ToString() ?? string.Empty;
            if (_seen.TryGetValue(blob.Name, out var seen) && seen == etag)
                continue;
            await chain.StartFromBlobAsync(blob.Name, cancellationToken);
            _seen[blob.Name] = etag;
        }

        var queue = storage.Queues.GetQueueClient(StorageOptions.SliceStepsQueue);
        while (true)
        {
            var messages = (await queue.ReceiveMessagesAsync(maxMessages: 8, visibilityTimeout: TimeSpan.FromMinutes(5), cancellationToken)).Value;
            if (messages.Length == 0)
                return;
            foreach (var message in messages)
            {
                ChainStep? step = null;
                try
                {
                    step = JsonSerializer.Deserialize<ChainStep>(message.Body.ToStream(), ApiJson.Options);
                    if (step is not null)
                        await chain.RunStepAsync(step, cancellationToken);
                    await queue.DeleteMessageAsync(message.MessageId, message.PopReceipt, cancellationToken);
                }
                catch (Exception ex) when (ex is not OperationCanceledException)
                {
                    LogStepFailed(ex, message.MessageId, message.DequeueCount, ex.Message);
                    if (message.DequeueCount >= MaxTries)
                    {
                        if (step is not null)
                            await chain.FailAsync(step, ex.Message, cancellationToken);
                        await queue.DeleteMessageAsync(message.MessageId, message.PopReceipt, cancellationToken);
                    }
                    else
                    {
                        await queue.UpdateMessageAsync(message.MessageId, message.PopReceipt, visibilityTimeout: TimeSpan.FromSeconds(1), cancellationToken: cancellationToken);
                    }
                }
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Chain step message {MessageId} failed (try {Tries}): {Reason}")]
    private partial void LogStepFailed(Exception exception, string messageId, long tries, string reason);

    [LoggerMessage(Level = LogLevel.Error, Message = "Polling the chain queue failed: {Reason}")]
    private partial void LogPollFailed(Exception exception, string reason);
}

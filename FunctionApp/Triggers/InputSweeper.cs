using System.Collections.Concurrent;
using Azure.Storage.Blobs.Models;
using Azure.Storage.Blobs.Specialized;
using Azure;
using FunctionApp.Batch;
using FunctionApp.Blobs;
using FunctionApp.Chains;
using FunctionApp.Storage;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace FunctionApp.Triggers;

/// <summary>
/// The safety net under the triggers. The blob trigger can miss an upload (against Azurite its scan skips blobs written
/// within the same second as one it has seen), and a message in flight on an instance that dies comes back only after
/// the queue's ten-minute visibility timeout. Every <c>Storage:SweepInterval</c>, one instance (a lease decides which)
/// looks for inputs that have waited longer than <c>Storage:SweepGrace</c> without a current outcome, and for jobs and
/// chains that stopped moving, and takes them up through the same processors. The outcome rules make a duplicate harmless.
/// </summary>
public sealed partial class InputSweeper(
    BlobStorage storage,
    StorageProvisioner provisioner,
    ImageBlobProcessor images,
    BatchJobProcessor batches,
    SliceChain chains,
    IOptions<StorageOptions> options,
    TimeProvider time,
    ILogger<InputSweeper> logger) : BackgroundService
{
    private const string LockName = "locks/image-inference/sweeper";
    private static readonly TimeSpan LeaseDuration = TimeSpan.FromSeconds(15);
    private readonly StorageOptions _options = options.Value;

    /// <summary>Images whose sweep attempt failed, with the attempts so far: tried again next sweep, concluded after <see cref="TriggerPoison.Tries"/>.</summary>
    private readonly ConcurrentDictionary<(string Name, string ETag), int> _retries = new();
    private DateTimeOffset? _swept;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (!storage.IsConfigured || _options.SweepInterval <= TimeSpan.Zero)
            return;
        await provisioner.Provisioned.WaitAsync(stoppingToken);
        using var timer = new PeriodicTimer(_options.SweepInterval, time);
        do
        {
            try
            {
                await SweepIfLeaderAsync(stoppingToken);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                LogSweepFailed(ex.Message);
            }
        }
        while (await timer.WaitForNextTickAsync(stoppingToken));
    }

    private async Task SweepIfLeaderAsync(CancellationToken cancellationToken)
    {
        var lockBlob = storage.Container(StorageOptions.HostContainer).GetBlobClient(LockName);
        if (!(await lockBlob.ExistsAsync(cancellationToken)).Value)
        {
            try
            {
                await BlobWrites.UploadAsync(lockBlob, BinaryData.FromString(string.Empty), "text/plain", null, cancellationToken, new BlobRequestConditions { IfNoneMatch = ETag.All });
            }
            catch (RequestFailedException ex) when (ex.Status is 409 or 412)
            {
                // Another instance made it first.
            }
        }

        var lease = lockBlob.GetBlobLeaseClient();
        try
        {
            await lease.AcquireAsync(LeaseDuration, cancellationToken: cancellationToken);
        }
        catch (RequestFailedException ex) when (ex.Status == 409)
        {
            _swept = null; // another instance sweeps; if this one takes over later, it starts with a full sweep
            return;
        }

        // A short lease, renewed while the sweep runs: an instance that dies hands the sweep on within seconds.
        using var sweeping = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var renewing = RenewAsync(lease, sweeping.Token);
        try
        {
            await SweepAsync(cancellationToken);
        }
        finally
        {
            await sweeping.CancelAsync();
            await renewing;
            await lease.ReleaseAsync(cancellationToken: CancellationToken.None);
        }
    }

    private async Task RenewAsync(BlobLeaseClient lease, CancellationToken cancellationToken)
    {
        try
        {
            while (true)
            {
                await Task.Delay(LeaseDuration / 3, time, cancellationToken);
                await lease.RenewAsync(cancellationToken: cancellationToken);
            }
        }
        catch (OperationCanceledException)
        {
            // The sweep is over.
        }
        catch (RequestFailedException ex)
        {
            LogSweepFailed(ex.Message);
        }
    }

    /// <summary>One sweep over <c>images/</c>, <c>batches/</c> and <c>chain-images/</c>; returns how many inputs it took up.</summary>
    public async Task<int> SweepAsync(CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        var grace = _options.SweepGrace;

        // Images: a trigger's one invocation gives each its outcome, so each upload needs checking once, after its grace
        // period: on the first sweep all of them, then those that came of age since (plus any whose sweep attempt failed).
        var since = _swept - TimeSpan.FromSeconds(5);
        var due = new List<(string Name, string ETag)>();
        await foreach (var blob in storage.Images.GetBlobsAsync(BlobTraits.None, BlobStates.None, null, cancellationToken))
        {
            var modified = blob.Properties.LastModified ?? now;
            var etag = SourceBlob.Plain(blob.Properties.ETag!.Value);
            if (now - modified >= grace && (since is null || modified > since - grace || _retries.ContainsKey((blob.Name, etag))))
                due.Add((blob.Name, etag));
        }

        int taken = 0;
        await Parallel.ForEachAsync(due, new ParallelOptions { MaxDegreeOfParallelism = 4, CancellationToken = cancellationToken }, async (image, ct) =>
        {
            var record = await BlobWrites.PropertiesAsync(storage.Predictions.GetBlobClient(ImageBlobProcessor.PredictionName(image.Name)), ct);
            if (BlobWrites.SourceETagOf(record) == image.ETag)
            {
                _retries.TryRemove(image, out _);
                return;
            }

            Interlocked.Increment(ref taken);
            int tries = _retries.GetValueOrDefault(image);
            try
            {
                LogTakingUp(StorageOptions.ImagesContainer, image.Name);
                if (tries + 1 >= TriggerPoison.Tries)
                    await images.ConcludeAsync(image.Name, image.ETag, tries + 1, ct);
                else
                    await images.ProcessAsync(image.Name, ct);
                _retries.TryRemove(image, out _);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                _retries[image] = tries + 1;
                LogAttemptFailed(image.Name, tries + 1, ex.Message);
            }
        });

        // Batches and chains run over many invocations; any of them may stall, so every input is looked at each time.
        await foreach (var blob in storage.Batches.GetBlobsAsync(BlobTraits.None, BlobStates.None, null, cancellationToken))
        {
            if (await batches.SweepAsync(blob.Name, blob.Properties.LastModified ?? now, grace, cancellationToken))
                taken++;
        }

        await foreach (var blob in storage.ChainImages.GetBlobsAsync(BlobTraits.None, BlobStates.None, null, cancellationToken))
        {
            if (await chains.SweepAsync(blob.Name, blob.Properties.LastModified ?? now, grace, cancellationToken))
                taken++;
        }

        _swept = now;
        if (taken > 0)
            LogSwept(taken);
        return taken;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Taking up {Container}/{Name}: no outcome since its upload")]
    private partial void LogTakingUp(string container, string name);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Image {Name} failed on attempt {Attempt} of a sweep: {Reason}")]
    private partial void LogAttemptFailed(string name, int attempt, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "Sweep took up {Count} inputs that had no current outcome or had stopped moving")]
    private partial void LogSwept(int count);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Sweeping the inputs failed: {Reason}; trying again next time")]
    private partial void LogSweepFailed(string reason);
}

using Azure;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace FunctionApp.Storage;

/// <summary>
/// Creates every container and queue the app uses (<see cref="StorageLayout"/>) when the host starts, so that a new,
/// empty storage account works as it is: uploads find their containers, outputs have somewhere to go, and the poison
/// queues the app reads exist. Idempotent. Where the identity may not create them (in Azure the infra already has),
/// it says so once and goes on; while storage is unreachable it tries again in the background.
/// </summary>
public sealed partial class StorageProvisioner(BlobStorage storage, TimeProvider time, ILogger<StorageProvisioner> logger) : BackgroundService
{
    private readonly TaskCompletionSource _provisioned = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Completes once every container and queue exists (or creating them is not allowed).</summary>
    public Task Provisioned => _provisioned.Task;

    // Without an account nothing here runs, and nothing of the storage SDK is loaded (see BlobStorage).
    protected override Task ExecuteAsync(CancellationToken stoppingToken) =>
        storage.IsConfigured ? ProvisionUntilDoneAsync(stoppingToken) : Task.CompletedTask;

    private async Task ProvisionUntilDoneAsync(CancellationToken stoppingToken)
    {
        for (int attempt = 1; ; attempt++)
        {
            try
            {
                await ProvisionAsync(stoppingToken);
                return;
            }
            catch (RequestFailedException ex) when (ex.Status == 403)
            {
                LogNotAllowed(ex.ErrorCode ?? "403");
                _provisioned.TrySetResult();
                return;
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                LogRetrying(attempt, ex.Message);
                await Task.Delay(TimeSpan.FromSeconds(10), time, stoppingToken);
            }
        }
    }

    /// <summary>Creates whatever is missing; returns how many containers and queues it created.</summary>
    public async Task<int> ProvisionAsync(CancellationToken cancellationToken)
    {
        int created = 0;
        foreach (var name in StorageLayout.Containers)
        {
            if ((await storage.Container(name).CreateIfNotExistsAsync(cancellationToken: cancellationToken))?.Value is not null)
                created++;
        }

        foreach (var name in StorageLayout.Queues)
        {
            if ((await storage.Queue(name).CreateIfNotExistsAsync(cancellationToken: cancellationToken)) is not null)
                created++;
        }

        if (created > 0)
            LogCreated(created);
        _provisioned.TrySetResult();
        return created;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Created {Count} missing storage containers and queues")]
    private partial void LogCreated(int count);

    [LoggerMessage(Level = LogLevel.Warning, Message = "This identity may not create storage containers and queues ({Error}); the app expects them to exist already")]
    private partial void LogNotAllowed(string error);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Storage is not reachable to create the app's containers and queues (attempt {Attempt}): {Reason}; trying again in 10 s")]
    private partial void LogRetrying(int attempt, string reason);
}

using FunctionApp.Inference;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace FunctionApp.Models;

/// <summary>A remote model repository that copies new packages into the local models root.</summary>
public interface IModelRepositorySync
{
    Task<int> SyncAsync(CancellationToken cancellationToken);
}

/// <summary>
/// Hot reload. Every <c>Models:RefreshInterval</c>, looks for a model version newer than the one serving; loads
/// it in the background and runs one prediction; only then switches unpinned traffic to it in one step, and
/// retires the old version (its pool finishes the predictions in flight, then releases the model). A version
/// that fails to load is logged, left out of service, and not tried again until its folder changes.
/// </summary>
public sealed partial class ModelRefreshService(
    ModelCatalog catalog,
    EnginePoolRegistry pools,
    IEnumerable<IModelRepositorySync> repositories,
    IOptions<ModelsOptions> options,
    ILogger<ModelRefreshService> logger) : BackgroundService
{
    private readonly HashSet<string> _rejected = new(StringComparer.Ordinal);
    private readonly SemaphoreSlim _gate = new(1, 1);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var interval = options.Value.RefreshInterval;
        if (interval <= TimeSpan.Zero)
            return;
        using var timer = new PeriodicTimer(interval);
        do
        {
            try
            {
                await RefreshAsync(stoppingToken);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                LogScanFailed(ex, ex.Message);
            }
        }
        while (await timer.WaitForNextTickAsync(stoppingToken));
    }

    /// <summary>One pass: fetch newly published packages, then switch each model in use to its newest version that loads.</summary>
    public async Task RefreshAsync(CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken);
        try
        {
            foreach (var repository in repositories)
                await repository.SyncAsync(cancellationToken);

            foreach (var group in catalog.Refresh().Entries.GroupBy(e => e.Name))
            {
                var current = catalog.Active(group.Key);
                var newest = group.First();
                if (current is null || VersionComparer.Instance.Compare(newest.Version, current.Version) <= 0)
                    continue;
                var stamp = newest.Directory + "|" + Directory.GetLastWriteTimeUtc(newest.Directory).Ticks;
                if (_rejected.Contains(stamp))
                    continue;
                catalog.Forgive(newest.Name, newest.Version);

                try
                {
                    using var lease = pools.Lease(newest with { Pinned = true });
                    var pipeline = await lease.Pool.GetPipelineAsync(cancellationToken);
                    await lease.Pool.ProbeAsync(new float[pipeline.Package.Manifest.Preprocessing.TensorLength], cancellationToken);
                }
                catch (ModelLoadException ex)
                {
                    _rejected.Add(stamp);
                    catalog.Reject(newest with { Pinned = true }, ex.Reason);
                    LogRejected(newest.Name, newest.Version, current.Version, ex.Reason);
                    await pools.RetireAsync(newest, successor: null);
                    continue;
                }

                catalog.Activate(newest);
                LogSwitched(newest.Name, current.Version, newest.Version);
                await pools.RetireAsync(current, successor: newest);
            }
        }
        finally
        {
            _gate.Release();
        }
    }

    public override void Dispose()
    {
        _gate.Dispose();
        base.Dispose();
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Model {Model} switched from version {OldVersion} to {NewVersion}")]
    private partial void LogSwitched(string model, string oldVersion, string newVersion);

    [LoggerMessage(Level = LogLevel.Error, Message = "Model {Model} version {Version} was rejected and version {ServingVersion} keeps serving: {Reason}")]
    private partial void LogRejected(string model, string version, string servingVersion, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Checking the models root for new versions failed: {Reason}")]
    private partial void LogScanFailed(Exception exception, string reason);
}

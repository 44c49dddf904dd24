using FunctionApp.Inference;
using FunctionApp.Models;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace FunctionApp.Classification;

/// <summary>The answer to "can this instance serve predictions?"</summary>
public sealed record Readiness(bool Ready, string? Model, string? Version, ColdStartFacts? ColdStart, string? Error);

/// <summary>
/// The readiness health check: ready means the default model is loaded and one prediction on it works. Asking may
/// trigger the lazy load, so the first check after a cold start pays for it; later checks cost one inference at
/// most once per model version. Hosts ask through <see cref="HealthCheckService"/> (<see cref="ReadAsync"/>).
/// </summary>
public sealed class ModelReadinessCheck(ModelCatalog catalog, EnginePoolRegistry pools, ImageClassifier classifier) : IHealthCheck
{
    /// <summary>The tag of the checks that decide readiness.</summary>
    public const string Tag = "ready";

    private const string DataKey = "readiness";

    private volatile string? _verifiedDirectory;

    /// <summary>Runs the readiness checks registered with the host and returns the default model's answer.</summary>
    public static async Task<Readiness> ReadAsync(HealthCheckService health, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(health);
        var report = await health.CheckHealthAsync(check => check.Tags.Contains(Tag), cancellationToken);
        var entry = report.Entries.Values.FirstOrDefault(e => e.Data.ContainsKey(DataKey));
        return entry.Data?.GetValueOrDefault(DataKey) as Readiness
            ?? new Readiness(report.Status == HealthStatus.Healthy, null, null, null, report.Status == HealthStatus.Healthy ? null : "The readiness check did not answer.");
    }

    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var state = await CheckAsync(cancellationToken);
        var data = new Dictionary<string, object> { [DataKey] = state };
        return state.Ready ? HealthCheckResult.Healthy(data: data) : HealthCheckResult.Unhealthy(state.Error, data: data);
    }

    public async Task<Readiness> CheckAsync(CancellationToken cancellationToken)
    {
        ModelEntry entry;
        try
        {
            entry = catalog.Resolve();
        }
        catch (ModelNotFoundException ex)
        {
            return new Readiness(false, catalog.DefaultModel, null, null, ex.Message);
        }

        try
        {
            using var lease = await classifier.LeaseLoadedPoolAsync(entry, cancellationToken);
            var pool = lease.Pool;
            var pipeline = await pool.GetPipelineAsync(cancellationToken);
            var directory = pipeline.Package.Directory;
            if (_verifiedDirectory != directory)
            {
                // A pipeline warmed as it loaded has answered once (or is about to); another run would only hold up the
                // first request. A warm-up that failed is tried again here, so that the failure is reported.
                if (pipeline.WarmUpRun is { } warmUp)
                    await ((Task)warmUp).WaitAsync(cancellationToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
                cancellationToken.ThrowIfCancellationRequested();
                if (pipeline.WarmUpRun is not { IsCompletedSuccessfully: true })
                    await pool.ProbeAsync(new float[pipeline.Package.Manifest.Preprocessing.TensorLength], cancellationToken);
                _verifiedDirectory = directory;
            }

            return new Readiness(true, pool.Model, pool.Version, pool.ColdStart, null);
        }
        catch (ModelLoadException ex)
        {
            return new Readiness(false, entry.Name, entry.Version, pools.Find(entry)?.ColdStart, ex.Message);
        }
    }
}

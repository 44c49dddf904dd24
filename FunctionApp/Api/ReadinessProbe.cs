using FunctionApp.Inference;

namespace FunctionApp.Api;

/// <summary>The answer to "can this instance serve predictions?"</summary>
public sealed record Readiness(bool Ready, string? Model, string? Version, ColdStartFacts? ColdStart, string? Error);

/// <summary>
/// Ready means the default model is loaded and one prediction on it works. Asking may trigger the lazy
/// load, so the first probe after a cold start pays for it; later probes cost one inference at most once.
/// </summary>
public sealed class ReadinessProbe(ModelCatalog catalog, EnginePoolRegistry pools, ImageClassifier classifier)
{
    private volatile string? _verifiedDirectory;

    public async Task<Readiness> CheckAsync(CancellationToken cancellationToken)
    {
        try
        {
            return await CheckOnceAsync(cancellationToken);
        }
        catch (ObjectDisposedException)
        {
            // The version was retired by a hot reload while we looked: ask again about its successor.
            return await CheckOnceAsync(cancellationToken);
        }
    }

    private async Task<Readiness> CheckOnceAsync(CancellationToken cancellationToken)
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
            var pool = await classifier.GetLoadedPoolAsync(entry, cancellationToken);
            var pipeline = await pool.GetPipelineAsync(cancellationToken);
            var directory = pipeline.Package.Directory;
            if (_verifiedDirectory != directory)
            {
                await pool.ScoreAsync(new float[pipeline.Package.Manifest.Preprocessing.TensorLength], cancellationToken);
                _verifiedDirectory = directory;
            }

            return new Readiness(true, pool.Model, pool.Version, pool.ColdStart, null);
        }
        catch (ModelLoadException ex)
        {
            return new Readiness(false, entry.Name, entry.Version, pools.GetPool(entry).ColdStart, ex.Message);
        }
    }
}

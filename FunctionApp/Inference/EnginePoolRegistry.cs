using System.Collections.Concurrent;
using FunctionApp.Telemetry;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace FunctionApp.Inference;

/// <summary>
/// One <see cref="EnginePool"/> per model version for the whole process. Creating a pool is free; the
/// model loads when the pool is first used.
/// </summary>
public sealed class EnginePoolRegistry(
    IOptions<EnginePoolOptions> poolOptions,
    IOptions<OnnxRuntimeOptions> runtimeOptions,
    ILoggerFactory loggerFactory,
    InferenceMetrics metrics) : IAsyncDisposable, IDisposable
{
    private readonly ConcurrentDictionary<string, Lazy<EnginePool>> _pools = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, ModelEntry> _successors = new(StringComparer.Ordinal);

    /// <summary>
    /// The pool for a model version's package folder. An unpinned entry whose version has been retired gets
    /// the pool of the version that replaced it.
    /// </summary>
    public EnginePool GetPool(ModelEntry entry)
    {
        ArgumentNullException.ThrowIfNull(entry);
        for (int hops = 0; !entry.Pinned && hops < 16 && _successors.TryGetValue(Path.GetFullPath(entry.Directory), out var successor); hops++)
            entry = successor;
        var key = Path.GetFullPath(entry.Directory);
        return _pools.GetOrAdd(key, _ => new Lazy<EnginePool>(() => new EnginePool(
            entry.Name,
            entry.Version,
            () => InferencePipeline.Create(ModelPackage.Open(key, PackageUse.Classifier, servedVersion: entry.Version), runtimeOptions.Value),
            poolOptions.Value,
            loggerFactory.CreateLogger<EnginePool>(),
            metrics))).Value;
    }

    /// <summary>
    /// Takes a version out of service: later unpinned lookups go to <paramref name="successor"/>, and the old
    /// pool is disposed once its in-flight predictions have finished.
    /// </summary>
    public async Task RetireAsync(ModelEntry entry, ModelEntry? successor)
    {
        ArgumentNullException.ThrowIfNull(entry);
        var key = Path.GetFullPath(entry.Directory);
        if (successor is not null)
            _successors[key] = successor with { Pinned = false };
        if (_pools.TryRemove(key, out var pool) && pool.IsValueCreated)
            await pool.Value.DisposeAsync();
    }

    /// <summary>The pools created so far, loaded or not.</summary>
    public IReadOnlyCollection<EnginePool> Pools => _pools.Values.Where(p => p.IsValueCreated).Select(p => p.Value).ToList();

    /// <summary>For containers disposed synchronously: waits for in-flight predictions like <see cref="DisposeAsync"/>.</summary>
    public void Dispose() => DisposeAsync().AsTask().GetAwaiter().GetResult();

    public async ValueTask DisposeAsync()
    {
        foreach (var pool in _pools.Values.Where(p => p.IsValueCreated))
            await pool.Value.DisposeAsync();
        _pools.Clear();
    }
}

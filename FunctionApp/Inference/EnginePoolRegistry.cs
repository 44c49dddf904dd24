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
    private readonly ConcurrentDictionary<string, Lazy<EnginePool>> _chainPools = new(StringComparer.Ordinal);
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
        return PoolIn(_pools, entry, static (package, runtime) => PipelinePreload.TryTake(package.Directory, runtime) ?? InferencePipeline.Create(package, runtime), lone: true);
    }

    /// <summary>The pool of <paramref name="entry"/>'s folder in <paramref name="pools"/>, created (not loaded) on first ask.</summary>
    private EnginePool PoolIn(ConcurrentDictionary<string, Lazy<EnginePool>> pools, ModelEntry entry, Func<ModelPackage, OnnxRuntimeOptions, InferencePipeline> build, bool lone = false)
    {
        var key = Path.GetFullPath(entry.Directory);
        return pools.GetOrAdd(key, _ => new Lazy<EnginePool>(() =>
        {
            var runtime = runtimeOptions.Value;
            ModelPackage Open() => ModelPackage.Open(key, PackageUse.Classifier, servedVersion: entry.Version);

            // Slices loaded one at a time are the setting for little memory: no second copy of the weights then.
            LoneSession? loneSession = null;
            if (lone && runtime.HasLoneSession && runtime.SliceResidency != SliceResidency.OneAtATime)
            {
                var loneRuntime = runtime.ForLoneRuns();
                loneSession = new LoneSession(() => InferencePipeline.Create(Open(), loneRuntime), loneRuntime.EffectiveIntraOpThreads, runtime.LoneRunMinFirstRun);
            }

            return new EnginePool(
                entry.Name,
                entry.Version,
                () => build(Open(), runtime),
                poolOptions.Value,
                loggerFactory.CreateLogger<EnginePool>(),
                metrics,
                runtime,
                loneSession);
        })).Value;
    }

    /// <summary>
    /// A lease on the pool <paramref name="lookup"/> finds. A pool retired between the lookup and the lease is no
    /// longer in the registry, so the next lookup finds its successor (or, for a pinned entry, a fresh pool of the
    /// same version).
    /// </summary>
    private static PoolLease LeaseFrom(Func<EnginePool> lookup)
    {
        while (true)
        {
            var pool = lookup();
            if (pool.TryEnter())
                return new PoolLease(pool);
        }
    }

    /// <summary>
    /// The pool of exactly this version's folder if one exists (loaded or not), or else its chain pool if chains
    /// have run on it; never creates one.
    /// </summary>
    public EnginePool? Find(ModelEntry entry)
    {
        ArgumentNullException.ThrowIfNull(entry);
        var key = Path.GetFullPath(entry.Directory);
        return _pools.TryGetValue(key, out var pool) && pool.IsValueCreated ? pool.Value
            : _chainPools.TryGetValue(key, out var chain) && chain.IsValueCreated ? chain.Value
            : null;
    }

    /// <summary>
    /// A lease on the pool that serves <paramref name="entry"/>: the pool stays usable until the lease is disposed,
    /// even if a hot reload retires its version meanwhile. An unpinned entry whose version was retired gets its
    /// successor's pool.
    /// </summary>
    public PoolLease Lease(ModelEntry entry) => LeaseFrom(() => GetPool(entry));

    /// <summary>
    /// The pool that runs a sliced model as a chain of steps: the package opened once, the head (if any) loaded once
    /// with its engines pooled, each slice loaded only for the step that runs it. Leased like a classifier's pool.
    /// </summary>
    public PoolLease LeaseChain(ModelEntry entry)
    {
        ArgumentNullException.ThrowIfNull(entry);
        return LeaseFrom(() => PoolIn(_chainPools, entry, InferencePipeline.CreateChainHead));
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
            await pool.Value.RetireAsync();
        if (_chainPools.TryRemove(key, out var chain) && chain.IsValueCreated)
            await chain.Value.RetireAsync();
    }

    /// <summary>The pools created so far, loaded or not.</summary>
    public IReadOnlyCollection<EnginePool> Pools => _pools.Values.Where(p => p.IsValueCreated).Select(p => p.Value).ToList();

    /// <summary>For containers disposed synchronously: waits for in-flight predictions like <see cref="DisposeAsync"/>.</summary>
    public void Dispose() => DisposeAsync().AsTask().GetAwaiter().GetResult();

    public async ValueTask DisposeAsync()
    {
        foreach (var pool in _pools.Values.Concat(_chainPools.Values).Where(p => p.IsValueCreated))
            await pool.Value.DisposeAsync();
        _pools.Clear();
        _chainPools.Clear();
    }
}

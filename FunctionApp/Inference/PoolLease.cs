namespace FunctionApp.Inference;

/// <summary>
/// A hold on an <see cref="EnginePool"/> from <see cref="EnginePoolRegistry.Lease"/>: until it is disposed, the pool
/// is not released, even if its version is retired by a hot reload meanwhile (the retirement waits for it).
/// </summary>
public sealed class PoolLease : IDisposable
{
    private EnginePool? _pool;

    internal PoolLease(EnginePool pool) => _pool = pool;

    public EnginePool Pool => _pool ?? throw new ObjectDisposedException(nameof(PoolLease));

    public void Dispose() => Interlocked.Exchange(ref _pool, null)?.Exit();
}

using Microsoft.Extensions.Options;

namespace FunctionApp.Imaging;

/// <summary>
/// A process-wide budget of decoded pixel bytes in flight (<c>ImageLimits:MaxDecodedBytesInFlight</c>). Each decode
/// takes its share before it allocates and gives it back when its pixels are gone, in arrival order, so large images
/// that the limits allow wait for room instead of all being decoded at once. An image larger than the whole budget
/// still goes through, alone.
/// </summary>
public sealed class DecodeBudget(IOptions<ImageLimitsOptions> limits)
{
    private readonly object _gate = new();
    private readonly Queue<(long Bytes, TaskCompletionSource Ready)> _waiting = new();
    private readonly long _capacity = limits.Value.MaxDecodedBytesInFlight;
    private long _inFlight;
    private long _granted;

    public long Capacity => _capacity;

    /// <summary>Bytes of decoded pixels held now.</summary>
    public long InFlight
    {
        get
        {
            lock (_gate)
                return _inFlight;
        }
    }

    /// <summary>Bytes of decoded pixels granted since the process started, all told (they are native memory, which the
    /// garbage collector's own counts do not see).</summary>
    public long Granted => Interlocked.Read(ref _granted);

    /// <summary>Waits until <paramref name="bytes"/> fit (capped at the whole budget), and holds them until the lease is disposed.</summary>
    public async ValueTask<IDisposable> AcquireAsync(long bytes, CancellationToken cancellationToken = default)
    {
        long take = Math.Clamp(bytes, 0, _capacity);
        TaskCompletionSource ready;
        lock (_gate)
        {
            if (_waiting.Count == 0 && _inFlight + take <= _capacity)
            {
                _inFlight += take;
                _granted += take;
                return new Lease(this, take);
            }

            ready = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            _waiting.Enqueue((take, ready));
        }

        try
        {
            await ready.Task.WaitAsync(cancellationToken);
        }
        catch (OperationCanceledException)
        {
            lock (_gate)
            {
                if (!ready.Task.IsCompleted)
                {
                    // Still queued: leave the queue without taking anything.
                    ready.TrySetCanceled(cancellationToken);
                    throw;
                }
            }

            // Granted just as it was cancelled: give the share back.
            Release(take);
            throw;
        }

        return new Lease(this, take);
    }

    private void Release(long bytes)
    {
        lock (_gate)
        {
            _inFlight -= bytes;
            while (_waiting.TryPeek(out var next))
            {
                if (next.Ready.Task.IsCanceled)
                {
                    _waiting.Dequeue();
                    continue;
                }

                if (_inFlight + next.Bytes > _capacity)
                    break;
                _waiting.Dequeue();
                _inFlight += next.Bytes;
                _granted += next.Bytes;

                // Completed under the lock (its continuations run elsewhere), so a waiter that is cancelled at the
                // same moment sees either "granted" or "still queued", never neither.
                next.Ready.TrySetResult();
            }
        }
    }

    private sealed class Lease(DecodeBudget budget, long bytes) : IDisposable
    {
        private int _disposed;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _disposed, 1) == 0)
                budget.Release(bytes);
        }
    }
}

namespace FunctionApp.Inference;

/// <summary>Who waits for an engine: someone waiting for an answer now, or bulk work that can wait a little.</summary>
public enum InferencePriority
{
    /// <summary>An HTTP request or a dropped image: first in line for a free engine.</summary>
    Interactive,

    /// <summary>A batch chunk: takes an engine only when no interactive caller is waiting.</summary>
    Bulk,
}

/// <summary>
/// A counting semaphore with two queues: a freed slot goes to the longest-waiting interactive caller, and only when
/// none waits to the longest-waiting bulk caller. So a running batch job never makes a single image wait behind its
/// queue of chunks, only behind the runs already in progress.
/// </summary>
public sealed class PrioritySlots(int count)
{
    private readonly object _gate = new();
    private readonly LinkedList<TaskCompletionSource> _interactive = new();
    private readonly LinkedList<TaskCompletionSource> _bulk = new();
    private int _free = count;

    /// <summary>Callers waiting now, of each priority.</summary>
    public (int Interactive, int Bulk) Waiting
    {
        get
        {
            lock (_gate)
                return (_interactive.Count, _bulk.Count);
        }
    }

    public Task WaitAsync(InferencePriority priority, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        TaskCompletionSource waiter;
        LinkedListNode<TaskCompletionSource> node;
        lock (_gate)
        {
            if (_free > 0 && _interactive.Count == 0 && (priority == InferencePriority.Interactive || _bulk.Count == 0))
            {
                _free--;
                return Task.CompletedTask;
            }

            waiter = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            node = (priority == InferencePriority.Interactive ? _interactive : _bulk).AddLast(waiter);
        }

        if (!cancellationToken.CanBeCanceled)
            return waiter.Task;
        var registration = cancellationToken.Register(() =>
        {
            lock (_gate)
            {
                if (node.List is null)
                    return; // already given a slot
                node.List.Remove(node);
            }

            waiter.TrySetCanceled(cancellationToken);
        });
        return waiter.Task.ContinueWith(
            t =>
            {
                registration.Dispose();
                return t;
            },
            CancellationToken.None,
            TaskContinuationOptions.ExecuteSynchronously,
            TaskScheduler.Default).Unwrap();
    }

    public void Release(int slots = 1)
    {
        var wake = new List<TaskCompletionSource>(slots);
        lock (_gate)
        {
            for (int i = 0; i < slots; i++)
            {
                var queue = _interactive.Count > 0 ? _interactive : _bulk;
                if (queue.First is { } next)
                {
                    queue.RemoveFirst();
                    wake.Add(next.Value);
                }
                else
                {
                    _free++;
                }
            }
        }

        foreach (var waiter in wake)
            waiter.TrySetResult();
    }
}

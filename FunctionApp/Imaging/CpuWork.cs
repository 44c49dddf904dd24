namespace FunctionApp.Imaging;

/// <summary>
/// Work in progress in this process that keeps a core busy: image decodes and inferences. A decode takes a second core
/// for itself (a PNG's image data inflated aside, see <see cref="PngDecoder"/>) only when it is the only such work, as
/// when requests come one at a time; under load every core already has work of its own.
/// </summary>
public static class CpuWork
{
    private static int _inProgress;

    /// <summary>Decodes and inferences in progress now.</summary>
    public static int InProgress => Volatile.Read(ref _inProgress);

    /// <summary>Counts one piece of work in progress until the scope is disposed.</summary>
    public static Scope Begin()
    {
        Interlocked.Increment(ref _inProgress);
        return new Scope(counted: true);
    }

    /// <summary>One piece of work counted by <see cref="Begin"/>.</summary>
    public readonly struct Scope(bool counted) : IDisposable
    {
        /// <summary>True when this is the only work in progress and the machine has a core to spare.</summary>
        public bool Alone => counted && InProgress == 1 && Environment.ProcessorCount > 1;

        public void Dispose()
        {
            if (counted)
                Interlocked.Decrement(ref _inProgress);
        }
    }
}

using System.Buffers;
using System.Diagnostics;
using System.IO.Compression;
using System.Runtime.ExceptionServices;

namespace FunctionApp.Imaging;

/// <summary>
/// A zlib stream inflated on a thread pool thread, a batch of bytes at a time into a ring of a few batches, ahead of the
/// thread that reads it (<see cref="PngDecoder"/>, which unfilters and converts the rows meanwhile). Both sides wait for
/// each other by spinning, yielding but never sleeping: a batch takes tens of microseconds, and this is meant for a
/// core that is otherwise idle. When no pool thread takes the inflating up within <see cref="StartGrace"/> (the pool
/// is busy), <see cref="TryStart"/> gives up and the caller inflates the stream itself, so that a busy pool never
/// holds a decode up.
/// </summary>
public sealed class InflateAside : IDisposable
{
    /// <summary>How long <see cref="TryStart"/> waits for a pool thread to begin.</summary>
    public static readonly TimeSpan StartGrace = TimeSpan.FromMilliseconds(0.5);

    private const int Slots = 4;
    private const int Unclaimed = 0, Inflater = 1, Caller = 2;

    private static long _started;
    private static long _declined;

    private readonly Func<Stream> _open;
    private readonly int _batchBytes;
    private readonly int _totalBytes;
    private readonly bool _truncated;
    private readonly byte[][] _slots = new byte[Slots][];
    private readonly int[] _lengths = new int[Slots];
    private readonly ManualResetEventSlim _finished = new(false);
    private int _owner;
    private int _produced;
    private int _consumed;
    private volatile bool _stop;
    private Exception? _error;

    private InflateAside(Func<Stream> open, int batchBytes, int totalBytes, bool truncated)
    {
        _open = open;
        _batchBytes = batchBytes;
        _totalBytes = totalBytes;
        _truncated = truncated;
    }

    /// <summary>Decodes whose stream a pool thread inflated, since the process started.</summary>
    public static long Started => Interlocked.Read(ref _started);

    /// <summary>Decodes that inflated their own stream because no pool thread began in time.</summary>
    public static long Declined => Interlocked.Read(ref _declined);

    /// <summary>
    /// Starts inflating the stream that <paramref name="open"/> gives on a pool thread, in batches of
    /// <paramref name="batchBytes"/> up to <paramref name="totalBytes"/>; then, unless <paramref name="truncated"/>,
    /// reads on to the stream's end (its checksum). Null when no pool thread began within <see cref="StartGrace"/>.
    /// <paramref name="start"/> runs the inflating elsewhere (by default, queued to the thread pool), and
    /// <paramref name="grace"/> is how long it may take to begin (by default <see cref="StartGrace"/>).
    /// </summary>
    public static InflateAside? TryStart(Func<Stream> open, int batchBytes, int totalBytes, bool truncated, Action<Action>? start = null, TimeSpan? grace = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(batchBytes, 1);
        var aside = new InflateAside(open, batchBytes, totalBytes, truncated);
        if (start is null)
            ThreadPool.UnsafeQueueUserWorkItem(static a => a.Inflate(), aside, preferLocal: false);
        else
            start(aside.Inflate);
        long deadline = Stopwatch.GetTimestamp() + (long)((grace ?? StartGrace).TotalSeconds * Stopwatch.Frequency);
        var spin = default(SpinWait);
        while (Volatile.Read(ref aside._owner) == Unclaimed && Stopwatch.GetTimestamp() < deadline)
            spin.SpinOnce(sleep1Threshold: -1);
        if (Interlocked.CompareExchange(ref aside._owner, Caller, Unclaimed) == Unclaimed)
        {
            // The pool thread, when it comes, finds the stream taken and leaves at once.
            Interlocked.Increment(ref _declined);
            aside._finished.Dispose();
            return null;
        }

        Interlocked.Increment(ref _started);
        return aside;
    }

    /// <summary>Fills <paramref name="destination"/> with the next batch; false when the stream ends before it is full.</summary>
    /// <exception cref="InvalidDataException">The stream is damaged.</exception>
    public bool Next(Span<byte> destination)
    {
        int batch = _consumed;
        var spin = default(SpinWait);
        while (Volatile.Read(ref _produced) <= batch)
        {
            if (_finished.IsSet && Volatile.Read(ref _produced) <= batch)
            {
                Rethrow();
                return false;
            }

            spin.SpinOnce(sleep1Threshold: -1);
        }

        int length = _lengths[batch % Slots];
        _slots[batch % Slots].AsSpan(0, length).CopyTo(destination);
        Volatile.Write(ref _consumed, batch + 1);
        return length == destination.Length;
    }

    /// <summary>Waits for the inflating to end (at the stream's checksum), and throws what it threw.</summary>
    /// <exception cref="InvalidDataException">The stream is damaged.</exception>
    public void Finish()
    {
        _finished.Wait();
        Rethrow();
    }

    /// <summary>Stops the inflating, waits for the pool thread to leave, and gives the batches back.</summary>
    public void Dispose()
    {
        _stop = true;
        _finished.Wait();
        _finished.Dispose();
        foreach (var slot in _slots)
        {
            if (slot is not null)
                ArrayPool<byte>.Shared.Return(slot);
        }
    }

    private void Rethrow()
    {
        if (_error is { } error)
            ExceptionDispatchInfo.Throw(error);
    }

    private void Inflate()
    {
        if (Interlocked.CompareExchange(ref _owner, Inflater, Unclaimed) != Unclaimed)
            return;
        try
        {
            for (int i = 0; i < Slots; i++)
                _slots[i] = ArrayPool<byte>.Shared.Rent(_batchBytes);
            using var zlib = new ZLibStream(_open(), CompressionMode.Decompress);
            for (int batch = 0, at = 0; at < _totalBytes; batch++, at += _batchBytes)
            {
                var spin = default(SpinWait);
                while (batch - Volatile.Read(ref _consumed) >= Slots && !_stop)
                    spin.SpinOnce(sleep1Threshold: -1);
                if (_stop)
                    return;

                int want = Math.Min(_batchBytes, _totalBytes - at);
                int got = zlib.ReadAtLeast(_slots[batch % Slots].AsSpan(0, want), want, throwOnEndOfStream: false);
                _lengths[batch % Slots] = got;
                Volatile.Write(ref _produced, batch + 1);
                if (got < want)
                    return;
            }

            if (!_truncated)
                zlib.ReadAtLeast(stackalloc byte[1], 1, throwOnEndOfStream: false);
        }
        catch (Exception ex)
        {
            _error = ex;
        }
        finally
        {
            _finished.Set();
        }
    }
}

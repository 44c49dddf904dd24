using System.CommandLine;
using System.Diagnostics;
using System.Globalization;

namespace FunctionApp.Cli;

/// <summary>
/// Progress of a long command on standard error: on a terminal, one bar redrawn in place with the count, the rate and
/// the time left; when standard error goes to a file or a pipe, a plain line every <see cref="PlainInterval"/> and one
/// at the end, so logs stay readable. Standard output keeps only the command's answer.
/// </summary>
public sealed class CliProgress : IProgress<int>, IProgress<(int Done, int Total)>, IDisposable
{
    private const int BarWidth = 24;
    private static readonly TimeSpan TerminalInterval = TimeSpan.FromMilliseconds(100);

    private readonly TextWriter _error;
    private readonly string _activity;
    private readonly string _unit;
    private readonly bool _terminal;
    private readonly TimeSpan _interval;
    private readonly long _started = Stopwatch.GetTimestamp();
    private readonly Lock _gate = new();
    private long _lastDrawn;
    private int _done;
    private int _total;
    private int _drawnWidth;
    private bool _finished;

    public CliProgress(TextWriter error, string activity, int total, string unit, bool terminal, TimeSpan? plainInterval = null)
    {
        _error = error;
        _activity = activity;
        _unit = unit;
        _total = total;
        _terminal = terminal;
        _interval = terminal ? TerminalInterval : plainInterval ?? PlainInterval;
        _lastDrawn = _started;
    }

    /// <summary>How often a plain progress line is written when standard error is not a terminal.</summary>
    public static readonly TimeSpan PlainInterval = TimeSpan.FromSeconds(10);

    /// <summary>Progress for a command: a bar when its standard error is the console on a terminal, plain lines otherwise.</summary>
    public static CliProgress Start(ParseResult parse, string activity, int total, string unit)
    {
        ArgumentNullException.ThrowIfNull(parse);
        var error = parse.InvocationConfiguration.Error;
        bool terminal = ReferenceEquals(error, Console.Error) && !Console.IsErrorRedirected;
        return new CliProgress(error, activity, total, unit, terminal);
    }

    public void Report(int value) => Update(value, null);

    public void Report((int Done, int Total) value) => Update(value.Done, value.Total);

    /// <summary>Writes the final state: the bar at its end with a new line, or the closing plain line.</summary>
    public void Complete()
    {
        lock (_gate)
        {
            if (_finished)
                return;
            _finished = true;
            var elapsed = Stopwatch.GetElapsedTime(_started);
            if (_terminal)
            {
                Draw(elapsed);
                _error.WriteLine();
            }
            else
            {
                _error.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{_activity}: {_done:N0} of {Math.Max(_total, _done):N0} {_unit} in {Clock(elapsed)} ({Rate(_done, elapsed)})"));
            }

            _error.Flush();
        }
    }

    /// <summary>Ends the bar's line if the command stopped before completing, so what follows starts on a line of its own.</summary>
    public void Dispose()
    {
        lock (_gate)
        {
            if (_finished)
                return;
            _finished = true;
            if (_terminal && _drawnWidth > 0)
                _error.WriteLine();
            _error.Flush();
        }
    }

    private void Update(int done, int? total)
    {
        lock (_gate)
        {
            if (_finished)
                return;
            _done = Math.Max(_done, done);
            if (total is { } t)
                _total = t;
            long now = Stopwatch.GetTimestamp();
            if (Stopwatch.GetElapsedTime(_lastDrawn, now) < _interval)
                return;
            _lastDrawn = now;
            var elapsed = Stopwatch.GetElapsedTime(_started, now);
            if (_terminal)
                Draw(elapsed);
            else
                _error.WriteLine(PlainLine(_activity, _done, _total, _unit, elapsed));
            _error.Flush();
        }
    }

    private void Draw(TimeSpan elapsed)
    {
        var line = BarLine(_activity, _done, _total, _unit, elapsed);
        _error.Write("\r" + line.PadRight(_drawnWidth));
        _drawnWidth = line.Length;
    }

    /// <summary>The terminal line: <c>evaluate [#########---------------] 412/1,000 images  52.3/s  0:11 left</c>.</summary>
    public static string BarLine(string activity, int done, int total, string unit, TimeSpan elapsed)
    {
        int filled = total > 0 ? (int)Math.Round(BarWidth * Math.Min(1.0, (double)done / total)) : 0;
        var bar = new string('#', filled) + new string('-', BarWidth - filled);
        return string.Create(CultureInfo.InvariantCulture, $"{activity} [{bar}] {done:N0}/{total:N0} {unit}  {Rate(done, elapsed)}  {Left(done, total, elapsed)}");
    }

    /// <summary>The redirected line: <c>evaluate: 412 of 1,000 images (41 %), 52.3/s, 0:11 left</c>.</summary>
    public static string PlainLine(string activity, int done, int total, string unit, TimeSpan elapsed)
    {
        var share = total > 0 ? string.Create(CultureInfo.InvariantCulture, $" ({100.0 * done / total:F0} %)") : string.Empty;
        return string.Create(CultureInfo.InvariantCulture, $"{activity}: {done:N0} of {total:N0} {unit}{share}, {Rate(done, elapsed)}, {Left(done, total, elapsed)}");
    }

    private static string Rate(int done, TimeSpan elapsed) =>
        elapsed.TotalSeconds > 0 && done > 0
            ? string.Create(CultureInfo.InvariantCulture, $"{done / elapsed.TotalSeconds:F1}/s")
            : "-/s";

    private static string Left(int done, int total, TimeSpan elapsed)
    {
        if (done <= 0 || total <= 0 || elapsed <= TimeSpan.Zero)
            return "time left unknown";
        if (done >= total)
            return "0:00 left";
        var left = TimeSpan.FromSeconds(elapsed.TotalSeconds / done * (total - done));
        return Clock(left) + " left";
    }

    private static string Clock(TimeSpan time) => time.TotalHours >= 1
        ? string.Create(CultureInfo.InvariantCulture, $"{(int)time.TotalHours}:{time.Minutes:D2}:{time.Seconds:D2}")
        : string.Create(CultureInfo.InvariantCulture, $"{(int)time.TotalMinutes}:{time.Seconds:D2}");
}

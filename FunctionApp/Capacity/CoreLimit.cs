using System.Runtime.InteropServices;

namespace FunctionApp.Capacity;

/// <summary>
/// Confines the whole process to a few cores while a measurement runs, to stand in for an instance's CPU share: on
/// Linux every thread's affinity is set (threads started later inherit it from their creator); elsewhere nothing is
/// limited and <see cref="Applied"/> says so. Disposing restores each thread's mask.
/// </summary>
public sealed class CoreLimit : IDisposable
{
    private const int MaskBytes = 128;
    private readonly byte[]? _original;

    private CoreLimit(int cores, byte[]? original, bool applied)
    {
        Cores = cores;
        _original = original;
        Applied = applied;
    }

    public int Cores { get; }

    /// <summary>Whether the process really was confined to <see cref="Cores"/> cores.</summary>
    public bool Applied { get; }

    /// <summary>Whether this platform can confine the process (Linux with a readable affinity mask).</summary>
    public static bool Supported => OperatingSystem.IsLinux() && CurrentMask() is not null;

    /// <summary>The cores the process may use now.</summary>
    public static int AvailableCores => CurrentMask() is { } mask ? Allowed(mask).Count : Environment.ProcessorCount;

    /// <summary>Confines the process to the first <paramref name="cores"/> of the cores it may use.</summary>
    public static CoreLimit Apply(int cores)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(cores, 1);
        var original = OperatingSystem.IsLinux() ? CurrentMask() : null;
        if (original is null)
            return new CoreLimit(cores, null, false);
        var allowed = Allowed(original);
        if (cores >= allowed.Count)
            return new CoreLimit(allowed.Count, null, true);
        var limited = new byte[MaskBytes];
        foreach (int cpu in allowed.Take(cores))
            limited[cpu / 8] |= (byte)(1 << (cpu % 8));
        bool ok = SetAll(limited);
        if (!ok)
        {
            SetAll(original);
            return new CoreLimit(cores, null, false);
        }

        return new CoreLimit(cores, original, true);
    }

    public void Dispose()
    {
        if (_original is not null)
            SetAll(_original);
    }

    private static List<int> Allowed(byte[] mask)
    {
        var cpus = new List<int>();
        for (int i = 0; i < mask.Length * 8; i++)
        {
            if ((mask[i / 8] & (1 << (i % 8))) != 0)
                cpus.Add(i);
        }

        return cpus;
    }

    private static byte[]? CurrentMask()
    {
        try
        {
            var mask = new byte[MaskBytes];
            return SchedGetAffinity(0, (nuint)MaskBytes, mask) == 0 ? mask : null;
        }
        catch (Exception ex) when (ex is DllNotFoundException or EntryPointNotFoundException)
        {
            return null;
        }
    }

    /// <summary>Sets the mask of every thread the process has now; true when every one took it.</summary>
    private static bool SetAll(byte[] mask)
    {
        bool all = true;
        string[] threads;
        try
        {
            threads = Directory.GetDirectories("/proc/self/task");
        }
        catch (IOException)
        {
            return false;
        }
        catch (UnauthorizedAccessException)
        {
            return false;
        }

        foreach (var dir in threads)
        {
            // A thread that ended since the listing is no failure.
            if (int.TryParse(Path.GetFileName(dir), out int tid) && SchedSetAffinity(tid, (nuint)mask.Length, mask) != 0 && Directory.Exists(dir))
                all = false;
        }

        return all;
    }

    [DllImport("libc", EntryPoint = "sched_getaffinity", SetLastError = true)]
    private static extern int SchedGetAffinity(int pid, nuint size, [Out] byte[] mask);

    [DllImport("libc", EntryPoint = "sched_setaffinity", SetLastError = true)]
    private static extern int SchedSetAffinity(int pid, nuint size, byte[] mask);
}

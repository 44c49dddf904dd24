using System.Runtime.InteropServices;

namespace FunctionApp.Inference;

/// <summary>The C allocator's heap, which ONNX Runtime and the image codecs allocate from.</summary>
public static class NativeHeap
{
    /// <summary>
    /// Returns the C allocator's free pages to the OS (<c>malloc_trim</c>, on Linux with glibc). glibc keeps freed memory
    /// for reuse, so after a model load (whose optimizer frees as much as the weights again) the process would otherwise
    /// go on holding it. Elsewhere a no-op.
    /// </summary>
    public static void Trim()
    {
        if (!OperatingSystem.IsLinux())
            return;
        try
        {
            _ = MallocTrim(0);
        }
        catch (Exception ex) when (ex is DllNotFoundException or EntryPointNotFoundException)
        {
            // Not glibc (musl, for one): its allocator returns memory on its own terms.
        }
    }

    /// <summary>Blocks at least this large get pages of their own from the OS, and give them back when freed.</summary>
    public const int MapThreshold = 4 * 1024 * 1024;

    /// <summary>
    /// Makes the C allocator map every block of <see cref="MapThreshold"/> or more on its own and unmap it when freed
    /// (<c>mallopt(M_MMAP_THRESHOLD)</c>, on Linux with glibc), unless the environment sets <c>MALLOC_MMAP_THRESHOLD_</c>.
    /// glibc's default threshold rises with every large block freed (up to 32 MiB), after which the buffers of large
    /// image decodes come from its heaps, one heap per busy thread; a burst of large images then leaves live blocks
    /// scattered over a dozen heaps whose free pages neither <see cref="Trim"/> nor time gives back. 4 MiB keeps an
    /// ordinary photo's decode (a 1024x768 bitmap is 3 MiB) and most of a model load's blocks in the heaps, where
    /// reuse is cheap. Elsewhere a no-op.
    /// </summary>
    private static void MapLargeBlocks() => SetUnlessTheEnvironmentDoes(MmapThresholdParameter, MapThreshold, "MALLOC_MMAP_THRESHOLD_");

    /// <summary>The free memory at the top of a heap that the C allocator keeps instead of giving it back.</summary>
    public const int TrimThreshold = MapThreshold;

    /// <summary>
    /// Makes the C allocator keep up to <see cref="TrimThreshold"/> of free memory at the top of each heap instead of
    /// returning everything over 128 KiB to the OS the moment it is freed (<c>mallopt(M_TRIM_THRESHOLD)</c>, on Linux
    /// with glibc), unless the environment sets <c>MALLOC_TRIM_THRESHOLD_</c>. Setting the map threshold (see
    /// <see cref="MapLargeBlocks"/>) pins this one at glibc's 128 KiB, so every request's decode buffer (442 KB for a
    /// 1024x768 JPEG decoded at 3/8) was given back when freed and faulted in again, zeroed, by the next request: about
    /// 100 page faults per request. <see cref="Trim"/> still returns the free pages after a model load. Elsewhere a no-op.
    /// </summary>
    private static void KeepFreedTopPages() => SetUnlessTheEnvironmentDoes(TrimThresholdParameter, TrimThreshold, "MALLOC_TRIM_THRESHOLD_");

    /// <summary>
    /// Sets up the C allocator for serving, once, before any other work: large blocks on pages of their own (see
    /// <see cref="MapLargeBlocks"/>), and, since setting that pins the trim threshold, the free memory at a heap's top
    /// kept for the next request (see <see cref="KeepFreedTopPages"/>).
    /// </summary>
    public static void Configure()
    {
        MapLargeBlocks();
        KeepFreedTopPages();
    }

    /// <summary>One of glibc's <c>mallopt</c> settings, unless its environment variable already sets it; elsewhere a no-op.</summary>
    private static void SetUnlessTheEnvironmentDoes(int parameter, int value, string variable)
    {
        if (!OperatingSystem.IsLinux() || Environment.GetEnvironmentVariable(variable) is not null)
            return;
        try
        {
            _ = MallOpt(parameter, value);
        }
        catch (Exception ex) when (ex is DllNotFoundException or EntryPointNotFoundException)
        {
            // Not glibc: its allocator manages its heaps on its own terms.
        }
    }

    /// <summary>glibc's <c>M_MMAP_THRESHOLD</c>.</summary>
    private const int MmapThresholdParameter = -3;

    /// <summary>glibc's <c>M_TRIM_THRESHOLD</c>.</summary>
    private const int TrimThresholdParameter = -1;

    [DllImport("libc", EntryPoint = "mallopt")]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    private static extern int MallOpt(int parameter, int value);

    [DllImport("libc", EntryPoint = "malloc_trim")]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    private static extern int MallocTrim(nuint pad);
}

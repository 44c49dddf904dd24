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
    public static void MapLargeBlocks()
    {
        if (!OperatingSystem.IsLinux() || Environment.GetEnvironmentVariable("MALLOC_MMAP_THRESHOLD_") is not null)
            return;
        try
        {
            _ = MallOpt(MmapThresholdParameter, MapThreshold);
        }
        catch (Exception ex) when (ex is DllNotFoundException or EntryPointNotFoundException)
        {
            // Not glibc: its allocator manages its heaps on its own terms.
        }
    }

    /// <summary>glibc's <c>M_MMAP_THRESHOLD</c>.</summary>
    private const int MmapThresholdParameter = -3;

    [DllImport("libc", EntryPoint = "mallopt")]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    private static extern int MallOpt(int parameter, int value);

    [DllImport("libc", EntryPoint = "malloc_trim")]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    private static extern int MallocTrim(nuint pad);
}

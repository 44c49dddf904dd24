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

    [DllImport("libc", EntryPoint = "malloc_trim")]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    private static extern int MallocTrim(nuint pad);
}

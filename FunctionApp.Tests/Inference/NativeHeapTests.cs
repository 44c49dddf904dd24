using System.Globalization;
using System.Runtime.InteropServices;
using FunctionApp.Inference;

namespace FunctionApp.Tests.Inference;

public sealed class NativeHeapTests
{
    private const int BlockBytes = 512 * 1024;
    private const int Rounds = 40;

    [Fact]
    public void KeepFreedTopPages_ABlockFreedAndAllocatedAgainIsNotFaultedInAgain()
    {
        if (!OperatingSystem.IsLinux())
            return; // glibc's allocator only; elsewhere the call does nothing.

        // glibc's default: everything over 128 KiB at a heap's top goes back to the OS when freed.
        Assert.Equal(1, MallOpt(TrimThresholdParameter, 128 * 1024));
        long givenBack = FaultsOverRounds();

        NativeHeap.KeepFreedTopPages();
        long kept = FaultsOverRounds();

        // Given back, each round faults in the block's 128 pages again; kept, only the first round touches new pages.
        Assert.True(givenBack >= Rounds * 64L, $"{givenBack} page faults with the default threshold");
        Assert.True(kept <= BlockBytes / 4096 + 16, $"{kept} page faults with the pages kept");
    }

    /// <summary>Minor page faults of this thread while it allocates, writes and frees the same block size over and over.</summary>
    private static long FaultsOverRounds()
    {
        var content = new byte[BlockBytes];
        Array.Fill(content, (byte)1);
        long before = ThreadMinorFaults();
        for (int i = 0; i < Rounds; i++)
        {
            nint block = Malloc(BlockBytes);
            Assert.NotEqual(0, block);
            Marshal.Copy(content, 0, block, BlockBytes);
            Free(block);
        }

        return ThreadMinorFaults() - before;
    }

    private static long ThreadMinorFaults()
    {
        // The tenth field of /proc/thread-self/stat, counted after the command name in parentheses (which may hold spaces).
        string stat = File.ReadAllText("/proc/thread-self/stat");
        string[] fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        return long.Parse(fields[7], CultureInfo.InvariantCulture);
    }

    private const int TrimThresholdParameter = -1;

    [DllImport("libc", EntryPoint = "mallopt")]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    private static extern int MallOpt(int parameter, int value);

    [DllImport("libc", EntryPoint = "malloc")]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    private static extern nint Malloc(nuint size);

    [DllImport("libc", EntryPoint = "free")]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    private static extern void Free(nint block);
}

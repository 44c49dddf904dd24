using System.Globalization;
using System.Reflection;
using System.Reflection.Emit;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using FunctionApp.Cli;
using FunctionApp.Inference;

namespace FunctionApp.Tests.Inference;

[CollectionDefinition(nameof(ProcessWideHeap), DisableParallelization = true)]
public sealed class ProcessWideHeap;

/// <summary>
/// The C allocator's settings are the process's: these tests run alone, so that no other test's allocations sit above
/// the block measured, and no model load trims the heap between a free and the next allocation.
/// </summary>
[Collection(nameof(ProcessWideHeap))]
public sealed class NativeHeapTests
{
    /// <summary>A bitmap the size of a 3000x240 photo's decode: below the map threshold, so it comes from a heap.</summary>
    private const int BlockBytes = 3000 * 240 * 4;

    [Fact]
    public void Configure_KeepsAFreedDecodeBufferForTheNextOne()
    {
        NativeHeap.Configure();
        try
        {
            // glibc's own threshold (128 KiB) gives the freed block back at once: the next one is faulted in again.
            Assert.Equal(1, MallOpt(TrimThresholdParameter, 128 * 1024));
            var given = Enumerable.Range(0, 5).Select(_ => FaultsOfTheNextBlock()).ToList();
            Assert.True(given.Max() > BlockBytes / 4096 / 2, $"page faults with glibc's threshold: {string.Join(' ', given)}");
        }
        finally
        {
            NativeHeap.Configure();
        }

        var kept = Enumerable.Range(0, 5).Select(_ => FaultsOfTheNextBlock()).ToList();
        Assert.True(kept.Min() < 50, $"page faults with the app's settings: {string.Join(' ', kept)}");
    }

    /// <summary>
    /// Every way the executable starts (the worker, <c>serve</c>, the other commands) sets the allocator up first: the
    /// program's body, read from its compiled code, calls <see cref="NativeHeap.Configure"/> before anything decides
    /// which way it starts.
    /// </summary>
    [Fact]
    public void TheProgram_SetsTheAllocatorUpBeforeItDecidesHowItStarts()
    {
        var program = typeof(NativeHeap).Assembly.EntryPoint!.DeclaringType!;
        var main = program.GetMethods(BindingFlags.Static | BindingFlags.NonPublic | BindingFlags.Public)
            .Single(m => m.GetCustomAttribute<AsyncStateMachineAttribute>() is not null);
        var body = main.GetCustomAttribute<AsyncStateMachineAttribute>()!.StateMachineType
            .GetMethod("MoveNext", BindingFlags.Instance | BindingFlags.NonPublic | BindingFlags.Public)!;

        var calls = Calls(body).ToList();
        int configure = calls.FindIndex(m => m.DeclaringType == typeof(NativeHeap) && m.Name == nameof(NativeHeap.Configure));
        int decide = calls.FindIndex(m => m.DeclaringType == typeof(CommandLineApp) && m.Name == nameof(CommandLineApp.IsWorkerLaunch));
        Assert.True(decide >= 0, $"the program no longer asks how it was launched: {string.Join(", ", calls.Select(m => m.Name))}");
        Assert.True(configure >= 0 && configure < decide, $"calls in order: {string.Join(", ", calls.Select(m => $"{m.DeclaringType?.Name}.{m.Name}"))}");
    }

    /// <summary>The methods <paramref name="method"/>'s IL calls, in order.</summary>
    private static IEnumerable<MethodBase> Calls(MethodInfo method)
    {
        var il = method.GetMethodBody()!.GetILAsByteArray()!;
        var oneByte = new Dictionary<short, OpCode>();
        foreach (var field in typeof(OpCodes).GetFields(BindingFlags.Public | BindingFlags.Static))
        {
            var code = (OpCode)field.GetValue(null)!;
            oneByte[code.Value] = code;
        }

        for (int at = 0; at < il.Length;)
        {
            short value = il[at] == 0xFE ? (short)(0xFE00 | il[at + 1]) : il[at];
            var code = oneByte[value];
            at += code.Size;
            int operand = code.OperandType switch
            {
                OperandType.InlineNone => 0,
                OperandType.ShortInlineBrTarget or OperandType.ShortInlineI or OperandType.ShortInlineVar => 1,
                OperandType.InlineVar => 2,
                OperandType.InlineI8 or OperandType.InlineR => 8,
                OperandType.InlineSwitch => 4 + (4 * BitConverter.ToInt32(il, at)),
                _ => 4,
            };
            if (code == OpCodes.Call || code == OpCodes.Callvirt)
            {
                var called = method.Module.ResolveMethod(BitConverter.ToInt32(il, at));
                if (called is not null)
                    yield return called;
            }

            at += operand;
        }
    }

    /// <summary>
    /// On a thread of its own: allocates a block, writes each page and frees it, twice, then allocates and writes
    /// another; returns the page faults of the last. A new thread may share a heap whose top already held free memory
    /// from earlier work, so that the first block freed takes it over the threshold and is given back; the second
    /// cycle leaves the heap's top as the block left it.
    /// </summary>
    private static long FaultsOfTheNextBlock()
    {
        long faults = -1;
        var thread = new Thread(() =>
        {
            Marshal.FreeHGlobal(Touch(BlockBytes));
            Marshal.FreeHGlobal(Touch(BlockBytes));
            long before = ThreadMinorFaults();
            nint block = Touch(BlockBytes);
            faults = ThreadMinorFaults() - before;
            Marshal.FreeHGlobal(block);
        });
        thread.Start();
        thread.Join();
        return faults;
    }

    /// <summary>Allocates a block from the C allocator and writes each of its pages; the caller frees it.</summary>
    private static nint Touch(int bytes)
    {
        nint block = Marshal.AllocHGlobal(bytes);
        for (int offset = 0; offset < bytes; offset += 4096)
            Marshal.WriteByte(block, offset, 1);
        return block;
    }

    /// <summary>The calling thread's minor page faults so far: the tenth field of its stat line, after the command name.</summary>
    private static long ThreadMinorFaults()
    {
        string stat = File.ReadAllText("/proc/thread-self/stat");
        return long.Parse(stat[(stat.LastIndexOf(')') + 2)..].Split(' ')[7], CultureInfo.InvariantCulture);
    }

    /// <summary>glibc's <c>M_TRIM_THRESHOLD</c>.</summary>
    private const int TrimThresholdParameter = -1;

    [DllImport("libc", EntryPoint = "mallopt")]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    private static extern int MallOpt(int parameter, int value);
}

namespace FunctionApp.Inference;

/// <summary>
/// Collects the youngest generation of the managed heap after every so many bytes the process allocates, checked after
/// each inference (<c>EnginePool:CollectGen0AfterBytes</c>).
/// </summary>
/// <remarks>
/// ML.NET's ONNX transformer copies every input tensor into a new array: 602 KB for a 224x224 RGB input. Over the
/// large-object threshold those copies fill the large-object heap, which only full collections empty; the background
/// collections they set off (about four a second at one request at a time on ResNet-18) take a core from a run whose
/// threads wait on each other. The app raises the threshold to 704 KB (<c>System.GC.LOHThreshold</c>,
/// FunctionApp.csproj), so the copies die young in generation 0 instead. Left to itself, the collector then lets
/// generation 0 grow to 16 MB between collections, which the process's peak memory shows; collecting it after every
/// few megabytes keeps it as small as the large-object heap was. A collection of generation 0 is cheap here, as
/// little in it survives.
/// </remarks>
public static class Gen0Pacing
{
    private static readonly Lock Gate = new();
    private static long s_mark = GC.GetTotalAllocatedBytes();
    private static int s_collections = GC.CollectionCount(0);

    /// <summary>
    /// Collects generation 0 when the process has allocated <paramref name="budgetBytes"/> or more since the last
    /// collection of it (its own or this one's); 0 or less turns this off. True when it collected.
    /// </summary>
    public static bool AfterRun(long budgetBytes)
    {
        if (budgetBytes <= 0)
            return false;

        long allocated = GC.GetTotalAllocatedBytes(precise: false);
        if (allocated - Volatile.Read(ref s_mark) < budgetBytes)
            return false;

        lock (Gate)
        {
            int collections = GC.CollectionCount(0);
            if (collections != s_collections)
            {
                // The collector ran one of its own since the mark: count from here.
                s_collections = collections;
                Volatile.Write(ref s_mark, allocated);
                return false;
            }

            if (allocated - s_mark < budgetBytes)
                return false;

            GC.Collect(0, GCCollectionMode.Forced, blocking: true);
            s_collections = GC.CollectionCount(0);
            Volatile.Write(ref s_mark, GC.GetTotalAllocatedBytes(precise: false));
            return true;
        }
    }
}

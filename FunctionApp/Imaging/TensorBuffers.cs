using System.Collections.Concurrent;

namespace FunctionApp.Imaging;

/// <summary>
/// Tensors of one exact length, reused across requests. A model input of 3x224x224 floats is about 600 KB: one new
/// array per request lands on the large object heap and costs a full collection every so often. The pool keeps a few
/// arrays per length (as many as can be in flight on this machine), and drops the rest.
/// </summary>
public static class TensorBuffers
{
    private static readonly ConcurrentDictionary<int, ConcurrentBag<float[]>> Idle = new();
    private static readonly int MaxIdlePerLength = Math.Max(4, 2 * Environment.ProcessorCount);

    /// <summary>An array of exactly <paramref name="length"/> floats, with any old content.</summary>
    public static float[] Rent(int length)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        return Idle.TryGetValue(length, out var bag) && bag.TryTake(out var array) ? array : new float[length];
    }

    /// <summary>Gives an array back once nothing reads it any more.</summary>
    public static void Return(float[] array)
    {
        ArgumentNullException.ThrowIfNull(array);
        var bag = Idle.GetOrAdd(array.Length, _ => []);
        if (bag.Count < MaxIdlePerLength)
            bag.Add(array);
    }
}

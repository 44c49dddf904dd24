using System.Buffers.Binary;
using System.Runtime.InteropServices;

namespace FunctionApp.Chains;

/// <summary>A float tensor as bytes for blob storage: rank (int32), each dimension (int64), then the values (float32), little-endian.</summary>
public static class TensorBlob
{
    public static byte[] Encode(float[] data, IReadOnlyList<long> shape)
    {
        ArgumentNullException.ThrowIfNull(data);
        ArgumentNullException.ThrowIfNull(shape);
        var bytes = new byte[4 + (8 * shape.Count) + (4 * data.Length)];
        BinaryPrimitives.WriteInt32LittleEndian(bytes, shape.Count);
        for (int i = 0; i < shape.Count; i++)
            BinaryPrimitives.WriteInt64LittleEndian(bytes.AsSpan(4 + (8 * i)), shape[i]);
        MemoryMarshal.AsBytes(data.AsSpan()).CopyTo(bytes.AsSpan(4 + (8 * shape.Count)));
        return bytes;
    }

    public static (float[] Data, long[] Shape) Decode(ReadOnlySpan<byte> bytes)
    {
        int rank = BinaryPrimitives.ReadInt32LittleEndian(bytes);
        if (rank is < 0 or > 16)
            throw new InvalidDataException("Not a tensor blob.");
        var shape = new long[rank];
        for (int i = 0; i < rank; i++)
            shape[i] = BinaryPrimitives.ReadInt64LittleEndian(bytes[(4 + (8 * i))..]);
        var payload = bytes[(4 + (8 * rank))..];
        long count = shape.Aggregate(1L, (a, b) => a * b);
        if (payload.Length != count * 4)
            throw new InvalidDataException($"The tensor blob holds {payload.Length} bytes for shape [{string.Join(",", shape)}].");
        return (MemoryMarshal.Cast<byte, float>(payload).ToArray(), shape);
    }
}

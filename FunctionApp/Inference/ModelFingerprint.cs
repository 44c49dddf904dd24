using System.Buffers.Binary;
using System.IO.Hashing;

namespace FunctionApp.Inference;

/// <summary>
/// What identifies a model file by its content, cheaply: its length and a hash of three samples of its bytes (1 MiB at
/// its start, middle and end; a file of up to 3 MiB is hashed whole). A millisecond, where hashing every byte of a
/// 60 MB model would take tens. Other weights of the same length change the samples too, so a different model does
/// not share a fingerprint in practice, while the same file reached through another path (a symbolic link, a copy, a
/// redeployment to a new folder) does.
/// </summary>
public static class ModelFingerprint
{
    private const int SampleBytes = 1 << 20;

    /// <summary><see cref="Of"/>, or null when the file cannot be read.</summary>
    public static string? TryOf(string path)
    {
        try
        {
            return Of(path);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    /// <summary>The fingerprint of the file at <paramref name="path"/>, as 32 hexadecimal digits.</summary>
    /// <exception cref="IOException">The file cannot be read.</exception>
    public static string Of(string path)
    {
        using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 1);
        long length = file.Length;
        var hash = new XxHash128();
        Span<byte> lengthBytes = stackalloc byte[8];
        BinaryPrimitives.WriteInt64LittleEndian(lengthBytes, length);
        hash.Append(lengthBytes);
        if (length <= 3L * SampleBytes)
        {
            hash.Append(file);
        }
        else
        {
            var sample = new byte[SampleBytes];
            foreach (long offset in (long[])[0, (length - SampleBytes) / 2, length - SampleBytes])
            {
                int filled = 0;
                while (filled < sample.Length && RandomAccess.Read(file.SafeFileHandle, sample.AsSpan(filled), offset + filled) is var read and > 0)
                    filled += read;
                hash.Append(sample.AsSpan(0, filled));
            }
        }

        return Convert.ToHexStringLower(hash.GetCurrentHash());
    }
}

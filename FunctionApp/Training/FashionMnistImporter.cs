using System.Buffers.Binary;
using System.IO.Compression;
using SkiaSharp;

namespace FunctionApp.Training;

/// <summary>
/// Turns the Fashion-MNIST IDX files (as Debian's <c>dataset-fashion-mnist</c> installs them) into a
/// labelled image folder of PNGs, one subfolder per class, ready for <c>train</c> and <c>evaluate</c>.
/// </summary>
public static class FashionMnistImporter
{
    public const string DefaultSource = "/usr/share/datasets/fashion-mnist";

    /// <summary>Class names in Fashion-MNIST label order, usable as folder names.</summary>
    public static IReadOnlyList<string> ClassNames { get; } =
        ["tshirt-top", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker", "bag", "ankle-boot"];

    /// <summary>Writes the images of a split ("train" or "t10k") as PNGs; returns how many were written.</summary>
    public static int Import(string sourceDirectory, string split, string outputDirectory, int? maxPerClass = null, IProgress<(int Done, int Total)>? progress = null)
    {
        var images = ReadIdx(Path.Combine(sourceDirectory, $"{split}-images-idx3-ubyte.gz"), 2051);
        var labels = ReadIdx(Path.Combine(sourceDirectory, $"{split}-labels-idx1-ubyte.gz"), 2049);
        int count = BinaryPrimitives.ReadInt32BigEndian(images.AsSpan(4));
        int rows = BinaryPrimitives.ReadInt32BigEndian(images.AsSpan(8));
        int cols = BinaryPrimitives.ReadInt32BigEndian(images.AsSpan(12));
        if (BinaryPrimitives.ReadInt32BigEndian(labels.AsSpan(4)) != count)
            throw new InvalidDataException("The image and label files hold different counts.");

        foreach (var name in ClassNames)
            Directory.CreateDirectory(Path.Combine(outputDirectory, name));

        int wanted = maxPerClass is { } cap ? Math.Min(count, cap * ClassNames.Count) : count;
        var perClass = new int[ClassNames.Count];
        int written = 0;
        int pixels = rows * cols;
        for (int i = 0; i < count; i++)
        {
            int label = labels[8 + i];
            if (label >= ClassNames.Count)
                throw new InvalidDataException($"Label {label} at index {i} is out of range.");
            if (maxPerClass is { } max && perClass[label] >= max)
                continue;
            perClass[label]++;

            using var bitmap = new SKBitmap(new SKImageInfo(cols, rows, SKColorType.Gray8, SKAlphaType.Opaque));
            images.AsSpan(16 + (i * pixels), pixels).CopyTo(bitmap.GetPixelSpan());
            using var png = bitmap.Encode(SKEncodedImageFormat.Png, 100);
            File.WriteAllBytes(Path.Combine(outputDirectory, ClassNames[label], $"{split}-{i:D5}.png"), png.ToArray());
            written++;
            progress?.Report((written, wanted));
        }

        return written;
    }

    private static byte[] ReadIdx(string path, int magic)
    {
        if (!File.Exists(path))
            throw new FileNotFoundException($"'{path}' is missing; install Debian's dataset-fashion-mnist or pass --source.", path);
        using var file = File.OpenRead(path);
        using var gzip = new GZipStream(file, CompressionMode.Decompress);
        using var memory = new MemoryStream();
        gzip.CopyTo(memory);
        var bytes = memory.ToArray();
        if (bytes.Length < 8 || BinaryPrimitives.ReadInt32BigEndian(bytes) != magic)
            throw new InvalidDataException($"'{path}' is not an IDX file of the expected kind.");
        return bytes;
    }
}

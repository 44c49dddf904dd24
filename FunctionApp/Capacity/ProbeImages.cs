using SkiaSharp;

namespace FunctionApp.Capacity;

/// <summary>The encoded images a measurement sends: a folder's images, or photo-like JPEGs made here.</summary>
public static class ProbeImages
{
    private static readonly string[] Extensions = [".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp"];

    /// <summary>Up to <paramref name="max"/> image files from a folder and its subfolders, in name order.</summary>
    /// <exception cref="DirectoryNotFoundException">No such folder.</exception>
    /// <exception cref="ArgumentException">The folder holds no images.</exception>
    public static IReadOnlyList<byte[]> FromFolder(string folder, int max)
    {
        if (!Directory.Exists(folder))
            throw new DirectoryNotFoundException($"The image folder {folder} does not exist.");
        var files = Directory.EnumerateFiles(folder, "*", SearchOption.AllDirectories)
            .Where(f => Extensions.Contains(Path.GetExtension(f).ToLowerInvariant()))
            .Order(StringComparer.Ordinal)
            .ToList();
        if (files.Count == 0)
            throw new ArgumentException($"The image folder {folder} holds no JPEG, PNG, BMP, GIF or WebP files.");

        // Spread the pick over the folder so that every subfolder (class) is represented.
        int step = Math.Max(1, files.Count / max);
        return files.Where((_, i) => i % step == 0).Take(max).Select(File.ReadAllBytes).ToList();
    }

    /// <summary>Photo-like JPEGs (gradients, shapes and noise) of the given size, the same on every run.</summary>
    public static IReadOnlyList<byte[]> Synthetic(int count, int width, int height)
    {
        var random = new Random(17);
        var images = new List<byte[]>(count);
        for (int i = 0; i < count; i++)
        {
            using var bitmap = new SKBitmap(new SKImageInfo(width, height, SKColorType.Rgba8888, SKAlphaType.Premul));
            using (var canvas = new SKCanvas(bitmap))
            {
                using var shader = SKShader.CreateLinearGradient(new SKPoint(0, 0), new SKPoint(width, height),
                    [new SKColor((byte)random.Next(256), (byte)random.Next(256), (byte)random.Next(256)), new SKColor((byte)random.Next(256), (byte)random.Next(256), (byte)random.Next(256))],
                    SKShaderTileMode.Clamp);
                using var paint = new SKPaint { Shader = shader };
                canvas.DrawRect(0, 0, width, height, paint);
                using var shape = new SKPaint { Color = new SKColor((byte)random.Next(256), (byte)random.Next(256), (byte)random.Next(256)), IsAntialias = true };
                canvas.DrawCircle(random.Next(width), random.Next(height), Math.Min(width, height) / 4f, shape);
            }

            // Noise, so that the JPEG decoder has the work of a real photo.
            var pixels = bitmap.Pixels;
            for (int p = 0; p < pixels.Length; p++)
            {
                var c = pixels[p];
                int n = random.Next(-24, 25);
                pixels[p] = new SKColor((byte)Math.Clamp(c.Red + n, 0, 255), (byte)Math.Clamp(c.Green + n, 0, 255), (byte)Math.Clamp(c.Blue + n, 0, 255));
            }

            bitmap.Pixels = pixels;
            using var data = bitmap.Encode(SKEncodedImageFormat.Jpeg, 85);
            images.Add(data.ToArray());
        }

        return images;
    }
}

using FunctionApp.Inference;
using SkiaSharp;

namespace FunctionApp.Benchmarks;

/// <summary>The bundled model package as the build lays it out, and inputs made once per run.</summary>
internal static class BundledModel
{
    public static string Directory => Path.Combine(AppContext.BaseDirectory, "models", "fashion-resnet18", "1");

    public static OnnxRuntimeOptions Runtime { get; } = new();

    /// <summary>A photo-like JPEG (gradients, shapes, noise) at quality 90, 1024x768 unless asked otherwise.</summary>
    public static byte[] PhotoJpeg(int seed = 42, int width = 1024, int height = 768) => Photo(seed, width, height, SKEncodedImageFormat.Jpeg, 90);

    /// <summary>The same kind of photo as an opaque RGB PNG (SkiaSharp's encoder picks each row's filter).</summary>
    public static byte[] PhotoPng(int width, int height, int seed = 42) => Photo(seed, width, height, SKEncodedImageFormat.Png, 100);

    private static byte[] Photo(int seed, int width, int height, SKEncodedImageFormat format, int quality)
    {
        var random = new Random(seed);
        using var bitmap = format == SKEncodedImageFormat.Png ? new SKBitmap(new SKImageInfo(width, height, SKColorType.Rgba8888, SKAlphaType.Opaque)) : new SKBitmap(width, height);
        using (var canvas = new SKCanvas(bitmap))
        {
            using var sky = SKShader.CreateLinearGradient(new SKPoint(0, 0), new SKPoint(0, height), [new SKColor(90, 140, 220), new SKColor(230, 200, 160)], SKShaderTileMode.Clamp);
            using var paint = new SKPaint { Shader = sky };
            canvas.DrawRect(0, 0, width, height, paint);
            paint.Shader = null;
            paint.IsAntialias = true;
            for (int i = 0; i < 60; i++)
            {
                paint.Color = new SKColor((byte)random.Next(256), (byte)random.Next(256), (byte)random.Next(256), (byte)random.Next(120, 256));
                canvas.DrawCircle(random.Next(width), random.Next(height), random.Next(10, 160), paint);
            }
        }

        var pixels = bitmap.GetPixelSpan().ToArray();
        for (int i = 0; i < pixels.Length; i++)
        {
            if (i % 4 != 3)
                pixels[i] = (byte)Math.Clamp(pixels[i] + random.Next(-12, 13), 0, 255);
        }

        System.Runtime.InteropServices.Marshal.Copy(pixels, 0, bitmap.GetPixels(), pixels.Length);
        using var data = bitmap.Encode(format, quality);
        return data.ToArray();
    }
}

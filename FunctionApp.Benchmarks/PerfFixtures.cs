using System.Diagnostics;
using System.Globalization;
using FunctionApp.Inference;
using Microsoft.ML.OnnxRuntime;
using SkiaSharp;

namespace FunctionApp.Benchmarks;

/// <summary>Helpers for perf/compare.sh: the JPEG twin of the PNG photo, and raw ONNX Runtime's best throughput.</summary>
internal static class PerfFixtures
{
    /// <summary><c>encode-jpeg IN OUT WIDTH HEIGHT QUALITY</c>: resizes a photo (high-quality filter) and encodes it as JPEG.</summary>
    public static int EncodeJpeg(string input, string output, int width, int height, int quality)
    {
        using var source = SKBitmap.Decode(input) ?? throw new InvalidDataException($"{input} is not an image.");
        using var resized = source.Resize(new SKImageInfo(width, height, SKColorType.Rgba8888, SKAlphaType.Premul), new SKSamplingOptions(SKCubicResampler.Mitchell));
        using var image = SKImage.FromBitmap(resized);
        using var data = image.Encode(SKEncodedImageFormat.Jpeg, quality);
        File.WriteAllBytes(output, data.ToArray());
        return 0;
    }

    /// <summary>
    /// <c>ort-throughput MODEL INPUT SECONDS</c>: images per second of bare ONNX Runtime (no decoding, no HTTP) for each
    /// split of the machine's cores into concurrent runs x intra-op threads, one shared session per split; prints one
    /// line per split and the best.
    /// </summary>
    public static int Throughput(string modelPath, string inputName, double seconds)
    {
        int cores = Environment.ProcessorCount;
        var splits = new List<(int Runs, int Threads)>();
        for (int runs = 1; runs <= cores * 2; runs *= 2)
        {
            splits.Add((runs, Math.Max(1, cores / runs)));
            if (runs < cores)
                splits.Add((runs, 1));
        }

        double best = 0;
        string bestName = "";
        foreach (var (runs, threads) in splits.Distinct())
        {
            var options = new OnnxRuntimeOptions { IntraOpThreads = threads }.CreateSessionOptions();
            using var session = new InferenceSession(modelPath, options);
            var shape = session.InputMetadata[inputName].Dimensions.Select(d => (long)Math.Max(1, d)).ToArray();
            long length = shape.Aggregate(1L, (a, b) => a * b);
            RunFor(session, inputName, shape, length, runs, TimeSpan.FromSeconds(Math.Min(2, seconds)));
            long done = RunFor(session, inputName, shape, length, runs, TimeSpan.FromSeconds(seconds));
            double perSecond = done / seconds;
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"runs={runs} intraOpThreads={threads} images/s={perSecond:F1}"));
            if (perSecond > best)
                (best, bestName) = (perSecond, $"runs={runs} intraOpThreads={threads}");
        }

        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"best {bestName} images/s={best:F1}"));
        return 0;
    }

    private static long RunFor(InferenceSession session, string inputName, long[] shape, long length, int runs, TimeSpan duration)
    {
        long count = 0;
        var stop = Stopwatch.GetTimestamp() + (long)(duration.TotalSeconds * Stopwatch.Frequency);
        var workers = Enumerable.Range(0, runs).Select(_ => Task.Factory.StartNew(() =>
        {
            var input = new float[length];
            using var value = OrtValue.CreateTensorValueFromMemory(input, shape);
            using var runOptions = new RunOptions();
            while (Stopwatch.GetTimestamp() < stop)
            {
                using var outputs = session.Run(runOptions, [inputName], [value], session.OutputNames);
                Interlocked.Increment(ref count);
            }
        }, TaskCreationOptions.LongRunning)).ToArray();
        Task.WaitAll(workers);
        return count;
    }
}

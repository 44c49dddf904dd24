using System.Diagnostics;
using System.Globalization;
using FunctionApp.Imaging;
using FunctionApp.Inference;
using Microsoft.Extensions.Options;
using Microsoft.ML.OnnxRuntime;

namespace FunctionApp.Benchmarks;

/// <summary>
/// <c>request-floor PACKAGE IMAGE SECONDS</c>: the least time one request for IMAGE can take in this process on this
/// machine, whatever the server around it: the app's own preprocessing of the photo (decode, resize, tensor), then one
/// bare ONNX Runtime run of the package's model on the real tensor with every core, threads spinning or not (the
/// faster), each the median of back-to-back repeats. No HTTP, no queueing, no ML.NET, no head. compare.sh sets it beside
/// the baselines' p50 at c=1.
/// </summary>
internal static class RequestFloor
{
    public static int Run(string packageDirectory, string imagePath, double seconds)
    {
        var package = ModelPackage.Open(packageDirectory, PackageUse.Featurizer);
        var spec = package.Manifest.Preprocessing;
        var bytes = File.ReadAllBytes(imagePath);
        var preprocessor = new ImagePreprocessor(new ImageDecoder(Options.Create(new ImageLimitsOptions())));
        var tensor = new float[spec.TensorLength];
        var budget = TimeSpan.FromSeconds(seconds / 3);

        double preprocess = Median(budget, () => preprocessor.Preprocess(bytes, spec, tensor, out _));
        double still = Inference(package.OnnxPath, tensor, spinning: false, budget);
        double spinning = Inference(package.OnnxPath, tensor, spinning: true, budget);
        double inference = Math.Min(still, spinning);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"preprocess_ms={preprocess:F2} inference_ms={inference:F2} (threads={Environment.ProcessorCount}, not spinning {still:F2}, spinning {spinning:F2}) floor_ms={preprocess + inference:F2}"));
        return 0;
    }

    private static double Inference(string onnxPath, float[] tensor, bool spinning, TimeSpan budget)
    {
        var runtime = new OnnxRuntimeOptions { IntraOpThreads = Environment.ProcessorCount, AllowSpinning = spinning };
        using var options = runtime.CreateSessionOptions();
        using var session = new InferenceSession(onnxPath, options);
        var input = session.InputMetadata.First();
        var shape = input.Value.Dimensions.Select(d => (long)Math.Max(1, d)).ToArray();
        if (shape.Aggregate(1L, (a, b) => a * b) != tensor.Length)
            throw new InvalidDataException($"The model's input {input.Key} does not hold the preprocessed tensor's {tensor.Length} values.");
        using var value = OrtValue.CreateTensorValueFromMemory(tensor, shape);
        using var runOptions = new RunOptions();
        string[] names = [input.Key];
        OrtValue[] values = [value];
        return Median(budget, () =>
        {
            using var outputs = session.Run(runOptions, names, values, session.OutputNames);
        });
    }

    /// <summary>The median duration in milliseconds of <paramref name="action"/> repeated for <paramref name="budget"/>, after a warm-up.</summary>
    private static double Median(TimeSpan budget, Action action)
    {
        for (int i = 0; i < 10; i++)
            action();
        var times = new List<double>();
        var stop = Stopwatch.GetTimestamp() + (long)(budget.TotalSeconds * Stopwatch.Frequency);
        while (Stopwatch.GetTimestamp() < stop || times.Count < 20)
        {
            long start = Stopwatch.GetTimestamp();
            action();
            times.Add(Stopwatch.GetElapsedTime(start).TotalMilliseconds);
        }

        return BenchmarkMath.Median(times);
    }
}

using System.Diagnostics;
using System.Globalization;
using FunctionApp.Hosting;
using FunctionApp.Classification;
using FunctionApp.Imaging;
using FunctionApp.Inference;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.ML.OnnxRuntime;

namespace FunctionApp.Benchmarks;

/// <summary>
/// <c>quantized-throughput ROOT NAME FLOAT INT8 IMAGES [ROUNDS]</c>: images per second of a float model version against
/// its int8 version, measured in one process with the same settings, three ways: a raw ONNX Runtime session on
/// preprocessed tensors (one run at a time), and the app's serving path (<see cref="ImageClassifier"/>: decode,
/// preprocessing, the ML.NET pipeline from the engine pool) with one request at a time and with four at once. Rounds
/// alternate which version goes first; the median ratio of each way is printed (see quantize.sh).
/// </summary>
internal static class QuantizedThroughput
{
    private const int Concurrency = 4;

    public static async Task<int> RunAsync(string root, string name, string floatVersion, string int8Version, string imagesDirectory, int rounds)
    {
        var files = Directory.EnumerateFiles(imagesDirectory, "*.png", SearchOption.AllDirectories).Order(StringComparer.Ordinal).ToList();
        // An even spread over the classes: every 50th of the sorted files, 200 images.
        var picked = Enumerable.Range(0, 200).Select(i => files[(int)((long)i * files.Count / 200)]).ToList();
        var images = picked.Select(f => new NamedImage(Path.GetFileName(f), File.ReadAllBytes(f))).ToArray();

        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Models:Root"] = root,
            ["Models:Default"] = name,
        }).Build();
        var services = new ServiceCollection().AddSingleton<IConfiguration>(configuration).AddLogging();
        services.AddServing();
        await using var provider = services.BuildServiceProvider();
        var classifier = provider.GetRequiredService<ImageClassifier>();
        var preprocessor = provider.GetRequiredService<ImagePreprocessor>();
        var runtime = provider.GetRequiredService<Microsoft.Extensions.Options.IOptions<OnnxRuntimeOptions>>().Value;

        var versions = new[] { floatVersion, int8Version };
        var packages = versions.Select(v => ModelPackage.Open(Path.Combine(root, name, v))).ToArray();
        var tensors = images.Select(i => preprocessor.Preprocess(i.Data.Span, packages[0].Manifest.Preprocessing, out _)).ToArray();
        var raw = packages.Select(p => new InferenceSession(p.OnnxPath, runtime.CreateSessionOptions())).ToArray();
        Console.WriteLine($"{name}: version {floatVersion} ({Path.GetFileName(packages[0].OnnxPath)}) against {int8Version} ({Path.GetFileName(packages[1].OnnxPath)}); {images.Length} Fashion-MNIST images; {runtime.EffectiveIntraOpThreads} intra-op threads; {Environment.ProcessorCount} cores");

        // Warm both: sessions loaded, engines created, first runs paid for.
        for (int v = 0; v < 2; v++)
        {
            RawRun(raw[v], packages[v], tensors.Take(10).ToArray());
            await Serve(classifier, name, versions[v], images.Take(20).ToArray(), Concurrency);
        }

        var ratios = new Dictionary<string, List<double>> { ["raw ONNX Runtime, 1 at a time"] = [], ["serving path, c=1"] = [], ["serving path, c=4"] = [] };
        for (int round = 1; round <= rounds; round++)
        {
            var order = round % 2 == 1 ? new[] { 0, 1 } : new[] { 1, 0 };
            var rawRate = new double[2];
            var c1 = new double[2];
            var c4 = new double[2];
            foreach (var v in order)
            {
                rawRate[v] = RawRun(raw[v], packages[v], tensors);
                c1[v] = await Serve(classifier, name, versions[v], images, 1);
                c4[v] = await Serve(classifier, name, versions[v], images, Concurrency);
            }

            ratios["raw ONNX Runtime, 1 at a time"].Add(rawRate[1] / rawRate[0]);
            ratios["serving path, c=1"].Add(c1[1] / c1[0]);
            ratios["serving path, c=4"].Add(c4[1] / c4[0]);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"round {round}: raw {rawRate[0]:F1} -> {rawRate[1]:F1} images/s ({rawRate[1] / rawRate[0]:F2}x); serving c=1 {c1[0]:F1} -> {c1[1]:F1} ({c1[1] / c1[0]:F2}x); serving c=4 {c4[0]:F1} -> {c4[1]:F1} ({c4[1] / c4[0]:F2}x)"));
        }

        foreach (var (way, list) in ratios)
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"median int8/float throughput, {way}: {BenchmarkMath.Median(list):F2}x"));
        foreach (var session in raw)
            session.Dispose();
        return 0;
    }

    private static double RawRun(InferenceSession session, ModelPackage package, float[][] tensors)
    {
        var spec = package.Manifest.Preprocessing;
        long[] shape = [1, spec.Channels, spec.Height, spec.Width]; // the bundled model is NCHW
        using var runOptions = new RunOptions();
        string[] inputs = [package.Manifest.InputTensor];
        string[] outputs = [package.Manifest.OutputTensor];
        var watch = Stopwatch.StartNew();
        foreach (var tensor in tensors)
        {
            using var input = OrtValue.CreateTensorValueFromMemory(tensor, shape);
            using var result = session.Run(runOptions, inputs, [input], outputs);
        }

        return tensors.Length / watch.Elapsed.TotalSeconds;
    }

    private static async Task<double> Serve(ImageClassifier classifier, string name, string version, NamedImage[] images, int concurrency)
    {
        int next = -1;
        var watch = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, concurrency).Select(_ => Task.Run(async () =>
        {
            int i;
            while ((i = Interlocked.Increment(ref next)) < images.Length)
            {
                var result = await classifier.ClassifyAsync(images[i], name, version, topK: 1);
                if (result.Version != version || result.Images[0].Top is not { Count: 1 })
                    throw new InvalidOperationException($"{images[i].Name} was not classified by version {version}.");
            }
        })));
        return images.Length / watch.Elapsed.TotalSeconds;
    }
}

using System.Diagnostics;
using System.Text.Json;
using FunctionApp.Inference;
using FunctionApp.Slicing;
using Microsoft.ML.OnnxRuntime;
using Onnx;

namespace FunctionApp.Benchmarks;

/// <summary>
/// Slice memory and latency on the bundled ResNet-18, in separate processes so the measured one only serves:
/// <c>slice-memory prepare SLICES weights|nodes DIR</c> writes the slices (cut by weight bytes, or by equal node
/// counts as the published approach does); <c>slice-memory run baseline|original|resident|onebyone DIR</c> runs 20
/// inferences and prints the process's peak working set and median latency. Driven by slice-memory.sh.
/// </summary>
internal static class SliceMemory
{
    public static int Prepare(int slices, string partition, string directory)
    {
        ModelProto model;
        using (var file = File.OpenRead(Path.Combine(BundledModel.Directory, "resnet18.onnx")))
            model = ModelProto.Parser.ParseFrom(file);
        var ranges = partition == "nodes"
            ? Enumerable.Range(0, slices).Select(s => (s * model.Graph.Node.Count / slices, (s + 1) * model.Graph.Node.Count / slices)).ToList()
            : OnnxSlicer.PartitionBySlices(OnnxSlicer.NodeWeights(model.Graph), slices);
        var written = ModelSlicing.WriteSlices(model, ranges, directory);
        File.WriteAllText(Path.Combine(directory, "slices.json"), JsonSerializer.Serialize(written.Select(w => w.Info).ToList()));
        Console.WriteLine($"largestSliceMB={written.Max(w => w.Info.WeightBytes) / 1048576.0:F1}");
        return 0;
    }

    public static int Run(string mode, string directory)
    {
        var runtime = new OnnxRuntimeOptions();
        var input = new float[3 * 224 * 224];
        var latencies = new List<double>();
        if (mode == "baseline")
        {
            // The process without any model: the runtime, ONNX Runtime's native library and the input buffer.
            using var options = runtime.CreateSessionOptions();
            latencies.Add(0);
        }
        else if (mode == "original")
        {
            using var session = new InferenceSession(Path.Combine(BundledModel.Directory, "resnet18.onnx"), runtime.CreateSessionOptions());
            for (int i = 0; i < 20; i++)
            {
                long start = Stopwatch.GetTimestamp();
                using var value = OrtValue.CreateTensorValueFromMemory(input, [1, 3, 224, 224]);
                using var runOptions = new RunOptions();
                using var outputs = session.Run(runOptions, ["Input247"], [value], ["Pooling395_Output_0"]);
                latencies.Add(Stopwatch.GetElapsedTime(start).TotalMilliseconds);
            }
        }
        else
        {
            var infos = JsonSerializer.Deserialize<List<SliceInfo>>(File.ReadAllText(Path.Combine(directory, "slices.json")))!;
            var slices = infos.Select(i => (Path.Combine(directory, i.File), i)).ToList();
            var residency = mode == "resident" ? SliceResidency.AllResident : SliceResidency.OneAtATime;
            using var runner = new SlicedModelRunner(slices, residency, runtime.CreateSessionOptions);
            var feed = new Dictionary<string, (float[], long[])> { ["Input247"] = (input, [1, 3, 224, 224]) };
            for (int i = 0; i < 20; i++)
            {
                long start = Stopwatch.GetTimestamp();
                runner.Run(feed);
                latencies.Add(Stopwatch.GetElapsedTime(start).TotalMilliseconds);
            }
        }

        using var process = Process.GetCurrentProcess();
        process.Refresh();
        latencies.Sort();
        Console.WriteLine($"peakMiB={process.PeakWorkingSet64 / 1048576.0:F1} medianMs={latencies[latencies.Count / 2]:F1}");
        return 0;
    }
}

using System.Diagnostics;
using FunctionApp.Inference;
using Microsoft.ML.OnnxRuntime;

namespace FunctionApp.Benchmarks;

/// <summary>
/// <c>ort-floor MODEL.onnx INPUT [1,3,224,224]</c>: the cold-start floor. A bare ONNX Runtime program that loads
/// the model with the app's session options and runs one inference, then exits. Nothing else is touched.
/// </summary>
internal static class OnnxRuntimeFloor
{
    public static int Run(string modelPath, string inputName)
    {
        long start = Stopwatch.GetTimestamp();
        using var session = new InferenceSession(modelPath, new OnnxRuntimeOptions().CreateSessionOptions());
        var loaded = Stopwatch.GetElapsedTime(start);
        var input = new float[3 * 224 * 224];
        using var value = OrtValue.CreateTensorValueFromMemory(input, [1, 3, 224, 224]);
        using var runOptions = new RunOptions();
        using var outputs = session.Run(runOptions, [inputName], [value], session.OutputNames);
        var total = Stopwatch.GetElapsedTime(start);
        Console.WriteLine($"loadMs={loaded.TotalMilliseconds:F0} firstInferenceMs={(total - loaded).TotalMilliseconds:F0} outputs={outputs[0].GetTensorTypeAndShape().ElementCount}");
        return 0;
    }
}

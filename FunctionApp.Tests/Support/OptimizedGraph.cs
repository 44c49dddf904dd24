using Google.Protobuf;
using Microsoft.ML.OnnxRuntime;
using Onnx;

namespace FunctionApp.Tests.Support;

/// <summary>What ONNX Runtime's optimizer makes of a graph (the operators it will run), written out and read back.</summary>
public static class OptimizedGraph
{
    public static List<string> OpTypes(ModelProto model, string directory, string name) =>
        Graph(model, directory, name).Node.Select(n => n.OpType).ToList();

    /// <summary>The optimized graph itself, at the extended level or with <paramref name="options"/> (which this takes over and disposes).</summary>
    public static GraphProto Graph(ModelProto model, string directory, string name, SessionOptions? options = null)
    {
        var source = Path.Combine(directory, name + ".onnx");
        var optimized = Path.Combine(directory, name + ".optimized.onnx");
        File.WriteAllBytes(source, model.ToByteArray());
        using (options ??= new SessionOptions { GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_EXTENDED })
        {
            options.OptimizedModelFilePath = optimized;
            using (new InferenceSession(source, options))
            {
            }
        }

        return ModelProto.Parser.ParseFrom(File.ReadAllBytes(optimized)).Graph;
    }
}

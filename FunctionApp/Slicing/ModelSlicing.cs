using FunctionApp.Inference;
using Google.Protobuf;
using Onnx;

namespace FunctionApp.Slicing;

/// <summary>Slices an ONNX model into files: types the crossing tensors with one probe run, then writes each slice.</summary>
public static class ModelSlicing
{
    public static IReadOnlyList<(string Path, SliceInfo Info)> WriteSlices(ModelProto model, IReadOnlyList<(int Start, int End)> ranges, string directory, IReadOnlyDictionary<string, SliceTensor>? knownTensors = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        Directory.CreateDirectory(directory);
        var crossing = OnnxSlicer.CrossingTensors(model.Graph, ranges);
        var tensors = knownTensors is not null && crossing.All(knownTensors.ContainsKey)
            ? knownTensors
            : TensorProbe.Discover(model, crossing);
        var written = new List<(string, SliceInfo)>();
        foreach (var (slice, info) in OnnxSlicer.Slice(model, ranges, tensors))
        {
            var path = Path.Combine(directory, info.File);
            using (var file = File.Create(path))
                slice.WriteTo(file);
            written.Add((path, info));
        }

        return written;
    }
}

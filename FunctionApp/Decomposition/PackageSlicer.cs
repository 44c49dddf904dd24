using FunctionApp.Inference;
using Onnx;

namespace FunctionApp.Decomposition;

/// <summary>What <c>slice</c> made.</summary>
public sealed record SlicedPackage(string Directory, IReadOnlyList<SliceInfo> Slices, long TotalWeightBytes);

/// <summary>Turns a model package into a sliced model package: the slices, the manifest listing them, and everything else copied.</summary>
public static class PackageSlicer
{
    public static SlicedPackage Slice(ModelPackage package, int? slices, long? maxSliceBytes, string outputDirectory)
    {
        ArgumentNullException.ThrowIfNull(package);
        if (package.IsSliced)
            throw new ArgumentException("The package is already sliced.", nameof(package));
        if (slices is null == maxSliceBytes is null)
            throw new ArgumentException("Give either a slice count or a largest slice size.");

        ModelProto model;
        using (var file = File.OpenRead(package.OnnxPath))
            model = ModelProto.Parser.ParseFrom(file);
        var weights = OnnxSlicer.NodeWeights(model.Graph);
        var ranges = slices is { } count ? OnnxSlicer.PartitionBySlices(weights, count) : OnnxSlicer.PartitionByMaxBytes(weights, maxSliceBytes!.Value);

        var output = Path.GetFullPath(outputDirectory);
        Directory.CreateDirectory(output);
        var written = ModelSlicing.WriteSlices(model, ranges, output);
        foreach (var file in Directory.EnumerateFiles(package.Directory))
        {
            var name = Path.GetFileName(file);
            if (name != ModelManifest.FileName && !string.Equals(Path.GetFullPath(file), package.OnnxPath, StringComparison.Ordinal))
                File.Copy(file, Path.Combine(output, name), overwrite: true);
        }

        var infos = written.Select(w => w.Info).ToList();
        var manifest = package.Manifest with
        {
            Description = $"{package.Manifest.Description ?? package.Name} (in {infos.Count} slices)",
            OnnxFile = infos[0].File,
            Slices = infos,
            Files = null,
        };
        File.WriteAllText(Path.Combine(output, ModelManifest.FileName), manifest.ToJson() + Environment.NewLine);
        return new SlicedPackage(output, infos, weights.Sum());
    }
}

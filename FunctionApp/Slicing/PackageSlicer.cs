using System.Globalization;
using FunctionApp.Inference;
using Onnx;

namespace FunctionApp.Slicing;

/// <summary>What <c>slice</c> made, and the version its manifest says.</summary>
public sealed record SlicedPackage(string Directory, string Version, IReadOnlyList<SliceInfo> Slices, long TotalWeightBytes);

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
        if (maxSliceBytes is { } limit && OnnxSlicer.LargestNode(weights) is var largest and >= 0 && weights[largest] > limit)
        {
            var node = model.Graph.Node[largest];
            int over = weights.Count(w => w > limit);
            var others = over > 1 ? $", and {over - 1} other nodes hold more than the limit too" : string.Empty;
            var enough = (Math.Ceiling(weights[largest] / 1048576.0 * 100) / 100).ToString("0.00", CultureInfo.InvariantCulture);
            throw new ArgumentException(
                $"No slice can stay under {Megabytes(limit)} MB: node {largest} ({node.OpType}{(node.Name.Length > 0 ? $" '{node.Name}'" : string.Empty)}, output '{node.Output.FirstOrDefault()}') alone holds {Megabytes(weights[largest])} MB of weights{others}. Use a limit of at least {enough} MB.");
        }

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

        // A models root serves the package as its folder's name: when the folder is laid out that way, say that version.
        var version = ModelPackage.FolderVersion(output, package.Name) ?? package.Version;
        var manifest = package.Manifest with
        {
            Version = version,
            Description = $"{package.Manifest.Description ?? package.Name} (in {infos.Count} slices)",
            OnnxFile = infos[0].File,
            Slices = infos,
            Files = null,
        };
        File.WriteAllText(Path.Combine(output, ModelManifest.FileName), manifest.ToJson() + Environment.NewLine);
        return new SlicedPackage(output, version, infos, weights.Sum());
    }

    private static string Megabytes(long bytes) => (bytes / 1048576.0).ToString("0.00", CultureInfo.InvariantCulture);
}

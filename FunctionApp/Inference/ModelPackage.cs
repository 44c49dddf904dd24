using System.Text.Json;

namespace FunctionApp.Inference;

/// <summary>What a package is opened for: serving as a classifier, or as the featurizer of a new one.</summary>
public enum PackageUse
{
    /// <summary>Labels (and the head, if named) must be present and consistent.</summary>
    Classifier,

    /// <summary>Only the ONNX model and its preprocessing are used; labels and head are ignored.</summary>
    Featurizer,
}

/// <summary>
/// A model package on disk: a folder with <c>model.json</c>, the ONNX file, the labels and optionally an
/// ML.NET head. Opening it checks the files and the manifest; <see cref="InferencePipeline"/> checks it
/// against the ONNX graph itself.
/// </summary>
public sealed class ModelPackage
{
    private ModelPackage(string directory, ModelManifest manifest, IReadOnlyList<string> labels, PackageUse use)
    {
        Directory = directory;
        Manifest = manifest;
        Labels = labels;
        Use = use;
    }

    public string Directory { get; }
    public ModelManifest Manifest { get; }
    public IReadOnlyList<string> Labels { get; }
    public PackageUse Use { get; }

    public string Name => Manifest.Name;
    public string Version => Manifest.Version;
    public string OnnxPath => Path.Combine(Directory, Manifest.OnnxFile);

    public bool IsSliced => Manifest.Slices is { Count: > 0 };
    public string? HeadPath => Manifest.Head is { } head ? Path.Combine(Directory, head.File) : null;
    public bool HasHead => Use == PackageUse.Classifier && Manifest.Head is not null;

    /// <exception cref="ModelPackageException">A file is missing or the manifest or labels are not valid.</exception>
    public static ModelPackage Open(string directory, PackageUse use = PackageUse.Classifier)
    {
        ArgumentException.ThrowIfNullOrEmpty(directory);
        directory = Path.GetFullPath(directory);
        if (!System.IO.Directory.Exists(directory))
            throw new ModelPackageException(directory, ["the folder does not exist"]);

        var manifestPath = Path.Combine(directory, ModelManifest.FileName);
        if (!File.Exists(manifestPath))
            throw new ModelPackageException(directory, [$"{ModelManifest.FileName} is missing"]);

        ModelManifest manifest;
        try
        {
            manifest = ModelManifest.Parse(File.ReadAllText(manifestPath));
        }
        catch (JsonException ex)
        {
            throw new ModelPackageException(directory, [$"{ModelManifest.FileName} is not a valid manifest: {ex.Message}"]);
        }

        var problems = new List<string>();
        problems.AddRange(ValidateManifest(manifest));
        CheckFile(directory, manifest.OnnxFile, "onnxFile", problems);
        foreach (var (slice, i) in (manifest.Slices ?? []).Select((slice, i) => (slice, i)))
            CheckFile(directory, slice.File, $"slices[{i}].file", problems);

        string[] labels = [];
        if (use == PackageUse.Classifier)
        {
            if (manifest.Head is { } head)
                CheckFile(directory, head.File, "head.file", problems);
            if (CheckFile(directory, manifest.Labels, "labels", problems))
            {
                labels = ReadLabels(Path.Combine(directory, manifest.Labels), problems);
                if (manifest.Head is null && manifest.OnnxOutputWidth > 0 && labels.Length > 0 && labels.Length != manifest.OnnxOutputWidth)
                    problems.Add($"labels file has {labels.Length} labels but outputShape declares {manifest.OnnxOutputWidth} classes");
            }
        }

        if (problems.Count > 0)
            throw new ModelPackageException(directory, problems);
        return new ModelPackage(directory, manifest, labels, use);
    }

    private static IEnumerable<string> ValidateManifest(ModelManifest manifest)
    {
        if (string.IsNullOrWhiteSpace(manifest.Name) || manifest.Name.Any(c => !(char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.')))
            yield return $"name '{manifest.Name}' must be letters, digits, '-', '_' or '.'";
        if (string.IsNullOrWhiteSpace(manifest.Version) || manifest.Version.Any(c => !(char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.')))
            yield return $"version '{manifest.Version}' must be letters, digits, '-', '_' or '.'";
        if (string.IsNullOrWhiteSpace(manifest.InputTensor))
            yield return "inputTensor is empty";
        if (string.IsNullOrWhiteSpace(manifest.OutputTensor))
            yield return "outputTensor is empty";
        var shape = manifest.OutputShape;
        bool shapeOk = (shape.Count == 2 || (shape.Count == 4 && shape[2] == 1 && shape[3] == 1))
            && (shape[0] == 1 || shape[0] == -1) && shape[1] > 0;
        if (!shapeOk)
            yield return $"outputShape [{string.Join(",", shape)}] must be [N,C] or [N,C,1,1] with N 1 or -1 and C positive";
        foreach (var problem in manifest.Preprocessing.Validate())
            yield return problem;
    }

    private static bool CheckFile(string directory, string relative, string field, List<string> problems)
    {
        if (string.IsNullOrWhiteSpace(relative))
        {
            problems.Add($"{field} is empty");
            return false;
        }

        var full = Path.GetFullPath(Path.Combine(directory, relative));
        if (!full.StartsWith(directory + Path.DirectorySeparatorChar, StringComparison.Ordinal))
        {
            problems.Add($"{field} '{relative}' points outside the package folder");
            return false;
        }

        if (!File.Exists(full))
        {
            problems.Add($"{field} '{relative}' is missing");
            return false;
        }

        return true;
    }

    private static string[] ReadLabels(string path, List<string> problems)
    {
        var labels = File.ReadAllLines(path).Select(l => l.Trim()).Where(l => l.Length > 0).ToArray();
        if (labels.Length == 0)
            problems.Add($"labels file '{Path.GetFileName(path)}' has no labels");
        var duplicates = labels.GroupBy(l => l, StringComparer.Ordinal).Where(g => g.Count() > 1).Select(g => g.Key).ToArray();
        if (duplicates.Length > 0)
            problems.Add($"labels file repeats {string.Join(", ", duplicates.Select(d => $"'{d}'"))}");
        return labels;
    }
}

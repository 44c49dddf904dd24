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
public sealed partial class ModelPackage
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
    public static ModelPackage Open(string directory, PackageUse use = PackageUse.Classifier) => Open(directory, use, servedVersion: null);

    /// <summary>
    /// Opens a package that a models root serves as <paramref name="servedVersion"/> (its folder's name): a manifest
    /// whose version says otherwise is refused, so that no answer names a version the package does not claim.
    /// </summary>
    /// <exception cref="ModelPackageException">A file is missing, the manifest or labels are not valid, or the versions disagree.</exception>
    public static ModelPackage Open(string directory, PackageUse use, string? servedVersion)
    {
        var inspected = Inspect(directory, use);
        var problems = inspected.Problems.ToList();
        if (inspected.Manifest is { } m && servedVersion is not null && m.Version != servedVersion)
            problems.Add(VersionMismatch(m.Version, servedVersion));
        if (problems.Count > 0)
            throw new ModelPackageException(inspected.Directory, problems);
        return new ModelPackage(inspected.Directory, inspected.Manifest!, inspected.Labels, use);
    }

    /// <summary>
    /// The version a package's folder stands for when the folder is laid out as a models root lays packages out
    /// (<c>{name}/{version}</c>): its name, when its parent folder is named as the model or the name is a version
    /// number such as <c>2</c> or <c>1.3</c>; otherwise null (a package in a folder of any other name).
    /// </summary>
    public static string? FolderVersion(string directory, string modelName)
    {
        ArgumentException.ThrowIfNullOrEmpty(directory);
        var full = Path.GetFullPath(directory).TrimEnd(Path.DirectorySeparatorChar);
        var folder = Path.GetFileName(full);
        var parent = Path.GetFileName(Path.GetDirectoryName(full));
        return string.Equals(parent, modelName, StringComparison.Ordinal) || VersionNumber().IsMatch(folder) ? folder : null;
    }

    [System.Text.RegularExpressions.GeneratedRegex(@"^\d+(\.\d+)*$", System.Text.RegularExpressions.RegexOptions.CultureInvariant)]
    private static partial System.Text.RegularExpressions.Regex VersionNumber();

    /// <summary>The problem to report when a manifest's version and its folder disagree.</summary>
    public static string VersionMismatch(string manifestVersion, string folderVersion) =>
        $"model.json says version '{manifestVersion}' but the package's folder is '{folderVersion}', the version a models root serves it as; make them agree (set \"version\": \"{folderVersion}\" or rename the folder)";

    /// <summary>What reading a package found: the manifest (when it parses), the labels, and every problem with them.</summary>
    internal sealed record Inspection(string Directory, ModelManifest? Manifest, string[] Labels, IReadOnlyList<string> Problems);

    /// <summary>Reads the manifest, checks the files it names and reads the labels, collecting every problem instead of stopping at the first.</summary>
    internal static Inspection Inspect(string directory, PackageUse use = PackageUse.Classifier)
    {
        ArgumentException.ThrowIfNullOrEmpty(directory);
        directory = Path.GetFullPath(directory);
        if (!System.IO.Directory.Exists(directory))
            return new Inspection(directory, null, [], ["the folder does not exist"]);

        var manifestPath = Path.Combine(directory, ModelManifest.FileName);
        if (!File.Exists(manifestPath))
            return new Inspection(directory, null, [], [$"{ModelManifest.FileName} is missing"]);

        ModelManifest manifest;
        try
        {
            manifest = ModelManifest.Parse(File.ReadAllText(manifestPath));
        }
        catch (JsonException ex)
        {
            return new Inspection(directory, null, [], [$"{ModelManifest.FileName} is not a valid manifest: {ex.Message}"]);
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
                labels = ReadLabels(Path.Combine(directory, manifest.Labels));
                if (labels.Length == 0)
                    problems.Add($"labels file '{manifest.Labels}' has no labels");
                if (manifest.Head is null && manifest.OnnxOutputWidth > 0 && labels.Length > 0 && labels.Length != manifest.OnnxOutputWidth)
                    problems.Add($"labels file has {labels.Length} labels but outputShape declares {manifest.OnnxOutputWidth} classes");
            }
        }

        return new Inspection(directory, manifest, labels, problems);
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
        if (manifest.MinScore is { } floor && !(floor >= 0f && floor <= 1f))
            yield return $"minScore must be between 0 and 1 (got {floor.ToString(System.Globalization.CultureInfo.InvariantCulture)})";
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

    /// <summary>
    /// Reads a labels file: one label per line, in class-index order (blank lines are skipped). Labels may contain
    /// commas and may repeat (ImageNet has two "crane" classes): answers carry the class index, which is unique. A file
    /// in the synset format, every line a WordNet id and its label ("n01440764 tench, Tinca tinca"), gives the labels
    /// without the ids.
    /// </summary>
    public static string[] ReadLabels(string path)
    {
        var lines = File.ReadAllLines(path).Select(l => l.Trim()).Where(l => l.Length > 0).ToArray();
        var synset = lines.Select(l => SynsetLine().Match(l)).ToArray();
        return lines.Length > 0 && synset.All(m => m.Success)
            ? synset.Select(m => m.Groups["label"].Value.Trim()).ToArray()
            : lines;
    }

    [System.Text.RegularExpressions.GeneratedRegex(@"^n\d{8}\s+(?<label>\S.*)$", System.Text.RegularExpressions.RegexOptions.CultureInvariant)]
    private static partial System.Text.RegularExpressions.Regex SynsetLine();
}

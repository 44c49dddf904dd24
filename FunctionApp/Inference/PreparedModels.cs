using System.IO.Hashing;
using Microsoft.ML.OnnxRuntime;

namespace FunctionApp.Inference;

/// <summary>
/// ONNX models prepared before they are deployed, in a folder shipped with the app (the build prepares every package
/// under the app's <c>models</c> folder; <c>models prepare</c> does it for any other). A prepared model is the graph
/// after ONNX Runtime's basic optimizations (constant folding, redundant nodes removed, batch normalization folded
/// into the convolutions before it), which are the same on every CPU and use only standard ONNX operators, saved with
/// its weights as page-aligned external data. A new instance, whose <see cref="OptimizedModelCache"/> is empty, loads
/// it with the remaining, CPU-specific optimizations: for ResNet-18 about half the load time of the original file and
/// half the memory at its peak, since the weights are mapped from the file instead of parsed and copied, and the
/// folding is already done.
/// <para>
/// An entry is found by the model file's content (its <see cref="ModelFingerprint"/>), not its path, so a package finds
/// its prepared form wherever its models folder lies. A model version's files do not change; a changed file finds no
/// entry and loads the ordinary way.
/// </para>
/// </summary>
public sealed class PreparedModels(string root)
{
    /// <summary>The graph file in an entry; its weights lie beside it in <see cref="WeightsFile"/>.</summary>
    public const string GraphFile = OptimizedModelCache.GraphFile;

    public const string WeightsFile = OptimizedModelCache.WeightsFile;

    /// <summary>The folder the build writes beside the app, and the default one the app reads.</summary>
    public const string FolderName = "prepared-models";

    /// <summary>Changes when what a prepared entry holds changes, so that old entries are no longer found.</summary>
    private const string Format = "prepared-1 basic";

    public string Root { get; } = root;

    /// <summary>The default folder: <see cref="FolderName"/> beside the app.</summary>
    public static string DefaultRoot => Path.Combine(AppContext.BaseDirectory, FolderName);

    /// <summary>The prepared models <paramref name="runtime"/> asks for, or null when it turns them off.</summary>
    public static PreparedModels? For(OnnxRuntimeOptions runtime)
    {
        ArgumentNullException.ThrowIfNull(runtime);
        return runtime.UsePreparedModels ? new PreparedModels(RootFor(runtime)) : null;
    }

    /// <summary>The folder <paramref name="runtime"/> names, or <see cref="DefaultRoot"/>.</summary>
    public static string RootFor(OnnxRuntimeOptions runtime)
    {
        ArgumentNullException.ThrowIfNull(runtime);
        return string.IsNullOrWhiteSpace(runtime.PreparedModelsFolder) ? DefaultRoot : Path.GetFullPath(runtime.PreparedModelsFolder);
    }

    /// <summary>The entry's name for the model file at <paramref name="modelPath"/>: its <see cref="ModelFingerprint"/>, with this folder's format.</summary>
    public static string Key(string modelPath) => KeyOf(ModelFingerprint.Of(modelPath));

    private static string KeyOf(string fingerprint) =>
        Convert.ToHexStringLower(XxHash128.Hash(System.Text.Encoding.UTF8.GetBytes(Format + "\n" + fingerprint)));

    /// <summary>The prepared graph for the model file at <paramref name="modelPath"/>, or null when there is none (or the file cannot be read).</summary>
    public string? Find(string modelPath) => ModelFingerprint.TryOf(modelPath) is { } fingerprint ? FindByFingerprint(fingerprint) : null;

    /// <summary>The prepared graph for a model file whose <see cref="ModelFingerprint"/> is <paramref name="fingerprint"/>, or null.</summary>
    public string? FindByFingerprint(string fingerprint)
    {
        string graph = Path.Combine(Root, KeyOf(fingerprint), GraphFile);
        return File.Exists(graph) ? graph : null;
    }

    /// <summary>What <see cref="Prepare"/> did with one model file.</summary>
    public sealed record Prepared(string Key, bool Written, long GraphBytes, long WeightsBytes);

    /// <summary>
    /// Prepares the model file at <paramref name="modelPath"/> into this folder, unless an entry for it is there
    /// already. The entry is written to a staging folder and renamed into place once complete.
    /// </summary>
    /// <exception cref="OnnxRuntimeException">ONNX Runtime cannot load the model.</exception>
    public Prepared Prepare(string modelPath)
    {
        string key = Key(modelPath);
        string target = Path.Combine(Root, key);
        if (!File.Exists(Path.Combine(target, GraphFile)))
        {
            Directory.CreateDirectory(Root);
            string staging = Path.Combine(Root, $".staging-{Guid.NewGuid():N}");
            try
            {
                Directory.CreateDirectory(staging);
                using (var view = GraphOnlyModel.Prepare(modelPath))
                using (var options = new SessionOptions
                {
                    GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_BASIC,
                    IntraOpNumThreads = 1,
                    InterOpNumThreads = 1,
                    // ONNX Runtime warns that a saved optimized model suits only this machine: true of the later levels, not of this one.
                    LogSeverityLevel = OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR,
                })
                {
                    OptimizedModelCache.SaveWithExternalWeights(options, staging);
                    using (new InferenceSession(view.Path, options))
                    {
                    }
                }

                if (!File.Exists(Path.Combine(staging, WeightsFile)))
                    File.WriteAllBytes(Path.Combine(staging, WeightsFile), []);
                if (Directory.Exists(target))
                    GraphOnlyModel.DeleteFolder(target);
                Directory.Move(staging, target);
            }
            finally
            {
                GraphOnlyModel.DeleteFolder(staging);
            }

            return Describe(key, written: true);
        }

        return Describe(key, written: false);
    }

    private Prepared Describe(string key, bool written)
    {
        string folder = Path.Combine(Root, key);
        return new Prepared(key, written, new FileInfo(Path.Combine(folder, GraphFile)).Length, new FileInfo(Path.Combine(folder, WeightsFile)).Length);
    }

    /// <summary>Removes every entry (and staging folder) but those named in <paramref name="keep"/>; returns how many entries went.</summary>
    public int RemoveAllBut(IReadOnlySet<string> keep)
    {
        ArgumentNullException.ThrowIfNull(keep);
        if (!Directory.Exists(Root))
            return 0;
        int removed = 0;
        foreach (var folder in new DirectoryInfo(Root).GetDirectories().Where(f => !keep.Contains(f.Name)))
        {
            GraphOnlyModel.DeleteFolder(folder.FullName);
            if (!folder.Name.StartsWith('.'))
                removed++;
        }

        return removed;
    }
}

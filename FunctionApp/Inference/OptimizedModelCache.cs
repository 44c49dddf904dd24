using System.Globalization;
using System.IO.Hashing;
using System.Runtime.InteropServices;
using System.Text;
using Microsoft.ML.OnnxRuntime;

namespace FunctionApp.Inference;

/// <summary>
/// ONNX models as ONNX Runtime leaves them after its graph optimizations, saved on this machine's disk so that the next
/// session of the same model loads them as they are. Optimizing a model at load (fusing layers, converting
/// convolutions to the blocked layout this CPU runs fastest) creates a second copy of every weight on the native heap
/// and takes most of the load; an optimized model, saved with its weights as page-aligned external data, loads in a
/// fraction of the time with its weights mapped from the file, so they cost file-backed pages the kernel can drop and
/// reload, not private memory, and no optimizing happens at all.
/// <para>
/// The optimized graph depends on the CPU (its instruction sets choose the layout), the ONNX Runtime version and the
/// optimization level, so an entry is keyed by those and by the model file's content (its <see cref="ModelFingerprint"/>)
/// and last write time: a model version's files do not change, a changed file is a new entry, and the same file reached
/// through another path (a symbolic link, a models root in a new temporary folder) finds its entry. An entry is written to a staging folder
/// and renamed into place once complete, so a reader never sees half of one, and two processes writing the same entry
/// at once both succeed. Anything that goes wrong with the cache (a full disk, a folder that cannot be written, an
/// entry that does not load) only means the model loads the ordinary way.
/// </para>
/// </summary>
public sealed class OptimizedModelCache(string root)
{
    /// <summary>The graph file in an entry; its weights lie beside it in <see cref="WeightsFile"/>.</summary>
    public const string GraphFile = "model.onnx";

    public const string WeightsFile = "weights.bin";

    /// <summary>Weights smaller than this stay inside the graph file.</summary>
    private const int MinExternalBytes = 1024;

    /// <summary>When the entries together pass this size, the least recently used are removed.</summary>
    public const long MaxTotalBytes = 2L << 30;

    /// <summary>An entry not used for this long is removed (its model has most likely gone).</summary>
    public static readonly TimeSpan UnusedFor = TimeSpan.FromDays(7);

    /// <summary>The cache's folder; the system's temporary folder by default.</summary>
    public string Root { get; } = root;

    /// <summary>The default folder: <c>functionapp-ort-cache</c> under the system's temporary folder.</summary>
    public static string DefaultRoot => Path.Combine(Path.GetTempPath(), "functionapp-ort-cache");

    /// <summary>The cache <paramref name="runtime"/> asks for, or null when it turns the cache off.</summary>
    public static OptimizedModelCache? For(OnnxRuntimeOptions runtime)
    {
        ArgumentNullException.ThrowIfNull(runtime);
        if (!runtime.CacheOptimizedModels)
            return null;
        return new OptimizedModelCache(string.IsNullOrWhiteSpace(runtime.OptimizedModelCacheFolder) ? DefaultRoot : runtime.OptimizedModelCacheFolder);
    }

    /// <summary>
    /// The entry's name for <paramref name="modelPath"/> optimized at <paramref name="level"/> on this machine, with or
    /// without <see cref="OnnxRuntimeOptions.ExactInt8Products"/> (which can change the saved graph).
    /// </summary>
    public static string Key(string modelPath, GraphOptimizationLevel level, bool exactInt8Products = true) => Key(modelPath, ModelFingerprint.Of(modelPath), level, exactInt8Products);

    /// <summary>The same, for a file whose <see cref="ModelFingerprint"/> is already known.</summary>
    public static string Key(string modelPath, string fingerprint, GraphOptimizationLevel level, bool exactInt8Products = true)
    {
        var identity = string.Join('\n',
            fingerprint,
            File.GetLastWriteTimeUtc(modelPath).Ticks.ToString(CultureInfo.InvariantCulture),
            level.ToString(),
            OrtEnv.Instance().GetVersionString(),
            CpuIdentity.Value,
            // On CPUs without VNNI an int8 model's weights are saved as U8 with it, as S8 without.
            exactInt8Products ? OnnxRuntimeOptions.ExactInt8ProductsKey : string.Empty);
        // A name for the entry, not a seal: the fingerprint in it is not a cryptographic hash either. The non-cryptographic
        // hash keeps the serving path from loading the system's cryptography library (OpenSSL) only to name a folder.
        return Convert.ToHexStringLower(XxHash128.Hash(Encoding.UTF8.GetBytes(identity)));
    }

    /// <summary><see cref="Key(string, GraphOptimizationLevel, bool)"/> for <paramref name="runtime"/>'s settings, or null when the model file cannot be read (the model then loads the ordinary way).</summary>
    public static string? TryKey(string modelPath, OnnxRuntimeOptions runtime, string? fingerprint = null)
    {
        ArgumentNullException.ThrowIfNull(runtime);
        try
        {
            return Key(modelPath, fingerprint ?? ModelFingerprint.Of(modelPath), runtime.GraphOptimization, runtime.ExactInt8Products);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    /// <summary>What chooses the optimized layout: the architecture and the instruction sets the CPU reports.</summary>
    private static readonly Lazy<string> CpuIdentity = new(() =>
    {
        var identity = new StringBuilder(RuntimeInformation.ProcessArchitecture.ToString());
        try
        {
            // The first processor's flags (x86) or features (Arm) line, and its model name.
            foreach (var line in File.ReadLines("/proc/cpuinfo"))
            {
                if (line.StartsWith("model name", StringComparison.Ordinal) || line.StartsWith("flags", StringComparison.Ordinal) || line.StartsWith("Features", StringComparison.Ordinal))
                    identity.Append('\n').Append(line);
                else if (line.Length == 0)
                    break;
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // Not Linux: the runtime's own view of the instruction sets.
            identity.Append(System.Runtime.Intrinsics.X86.Avx512F.IsSupported).Append(System.Runtime.Intrinsics.X86.Avx2.IsSupported)
                .Append(System.Runtime.Intrinsics.Arm.AdvSimd.IsSupported);
        }

        return identity.ToString();
    });

    /// <summary>The optimized graph saved for <paramref name="key"/>, or null when there is none.</summary>
    public string? Find(string key)
    {
        string folder = Path.Combine(Root, key);
        string graph = Path.Combine(folder, GraphFile);
        try
        {
            if (!File.Exists(graph))
                return null;
            // The folder's time marks its last use, for the removal of the least recently used.
            Directory.SetLastWriteTimeUtc(folder, DateTime.UtcNow);
            return graph;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    /// <summary>Removes an entry that did not load, so that the next load writes it again.</summary>
    public void Discard(string key) => DeleteFolder(Path.Combine(Root, key));

    /// <summary>
    /// A staging folder for ONNX Runtime to save the optimized model into while it loads the original, or null when
    /// the cache folder cannot be written. <see cref="Commit"/> it once the load has succeeded.
    /// </summary>
    public Staging? Stage(string key)
    {
        try
        {
            Directory.CreateDirectory(Root);
            string folder = Path.Combine(Root, $".staging-{Guid.NewGuid():N}");
            Directory.CreateDirectory(folder);
            return new Staging(this, key, folder);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    /// <summary>
    /// Asks ONNX Runtime, through <paramref name="options"/>, to save the model it loads, as optimized, into
    /// <paramref name="folder"/>: the graph as <see cref="GraphFile"/>, every weight but the smallest page-aligned in
    /// <see cref="WeightsFile"/> beside it, so that a later load maps them.
    /// </summary>
    internal static void SaveWithExternalWeights(SessionOptions options, string folder)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.OptimizedModelFilePath = Path.Combine(folder, GraphFile);
        options.AddSessionConfigEntry("session.optimized_model_external_initializers_file_name", WeightsFile);
        options.AddSessionConfigEntry("session.optimized_model_external_initializers_min_size_in_bytes", MinExternalBytes.ToString(CultureInfo.InvariantCulture));
    }

    /// <summary>An entry being written.</summary>
    public sealed class Staging(OptimizedModelCache cache, string key, string folder) : IDisposable
    {
        public string Key { get; } = key;

        /// <summary>Asks ONNX Runtime, through <paramref name="options"/>, to save the optimized model into this staging folder.</summary>
        public void SaveInto(SessionOptions options) => SaveWithExternalWeights(options, folder);

        /// <summary>Moves the saved model into place; true when this call put it there.</summary>
        public bool Commit()
        {
            try
            {
                if (!File.Exists(Path.Combine(folder, GraphFile)))
                    return false;
                string target = Path.Combine(cache.Root, Key);
                if (Directory.Exists(target))
                    return false;
                Directory.Move(folder, target);
                cache.Trim(keep: target);
                return true;
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                // Another process put the same entry in place first, or the disk said no: either way the load stands.
                return false;
            }
        }

        /// <summary>Removes whatever of the staging folder is left.</summary>
        public void Dispose() => DeleteFolder(folder);
    }

    /// <summary>
    /// Staging folders of killed processes, entries unused for <see cref="UnusedFor"/>, and the least recently used
    /// entries past <see cref="MaxTotalBytes"/>.
    /// </summary>
    private void Trim(string keep)
    {
        try
        {
            var folders = new DirectoryInfo(Root).GetDirectories();
            foreach (var stale in folders.Where(f => f.Name.StartsWith(".staging-", StringComparison.Ordinal) && DateTime.UtcNow - f.LastWriteTimeUtc > TimeSpan.FromHours(1)))
                DeleteFolder(stale.FullName);

            var entries = folders
                .Where(f => !f.Name.StartsWith('.'))
                .Select(f => (Folder: f, Bytes: f.EnumerateFiles().Sum(file => file.Length)))
                .OrderByDescending(e => e.Folder.LastWriteTimeUtc)
                .ToList();
            long total = 0;
            foreach (var (folder, bytes) in entries)
            {
                total += bytes;
                if ((total > MaxTotalBytes || DateTime.UtcNow - folder.LastWriteTimeUtc > UnusedFor) && !string.Equals(folder.FullName, Path.GetFullPath(keep), StringComparison.Ordinal))
                    DeleteFolder(folder.FullName);
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // Trimming is housekeeping; the next commit tries again.
        }
    }

    private static void DeleteFolder(string folder) => GraphOnlyModel.DeleteFolder(folder);
}

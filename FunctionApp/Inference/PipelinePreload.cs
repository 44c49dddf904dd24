using System.Collections.Concurrent;
using Microsoft.ML.OnnxRuntime;

namespace FunctionApp.Inference;

/// <summary>
/// Pipelines loading before the host that will serve them exists: a process that means to load its default model at
/// start (<c>Models:WarmUp=Eager</c>) begins the load as its first step, on a core of its own, while the host is
/// built and started on another. The engine pool that later asks for the same package with the same ONNX Runtime
/// settings takes the pipeline (waiting if it is still loading) instead of loading it again. One that nobody takes is
/// discarded once the host's warm-up is done, so it cannot hold memory.
/// </summary>
public static class PipelinePreload
{
    private static readonly ConcurrentDictionary<string, Task<InferencePipeline>> Loads = new(StringComparer.Ordinal);

    /// <summary>Starts loading <paramref name="package"/> (and running one prediction, so its first request finds it warm).</summary>
    public static void Start(ModelPackage package, OnnxRuntimeOptions runtime)
    {
        ArgumentNullException.ThrowIfNull(package);
        ArgumentNullException.ThrowIfNull(runtime);
        var key = Key(package.Directory, runtime);
        if (key is null || Loads.ContainsKey(key))
            return;
        Loads.TryAdd(key, Task.Run(() =>
        {
            var pipeline = InferencePipeline.Create(package, runtime);
            pipeline.WarmUp();
            return pipeline;
        }));
    }

    /// <summary>
    /// The preloaded pipeline of the package in <paramref name="directory"/>, if one was started with the same settings
    /// and the package has not changed since; null otherwise, and when the preload failed (the caller's own load then
    /// meets the same problem and reports it).
    /// </summary>
    public static InferencePipeline? TryTake(string directory, OnnxRuntimeOptions runtime)
    {
        if (Loads.IsEmpty)
            return null;
        var key = Key(directory, runtime);
        if (key is null || !Loads.TryRemove(key, out var load))
            return null;
        try
        {
            return load.GetAwaiter().GetResult();
        }
        catch (Exception ex) when (ex is ModelPackageException or ModelLoadException or InvalidOperationException or IOException)
        {
            return null;
        }
    }

    /// <summary>
    /// Loads ONNX Runtime's native library and creates its environment on the thread pool, so that the 30-50 ms this
    /// takes overlaps the reading of the package instead of coming between it and the session's build.
    /// </summary>
    public static void StartRuntime() => _ = Task.Run(static () =>
    {
        try
        {
            OrtEnv.Instance();
        }
        catch (Exception ex) when (ex is DllNotFoundException or TypeInitializationException or OnnxRuntimeException or EntryPointNotFoundException)
        {
            // The model's own load meets the same problem and reports it.
        }
    });

    /// <summary>Releases every preloaded pipeline nobody took.</summary>
    public static void DiscardUnclaimed()
    {
        foreach (var key in Loads.Keys)
        {
            if (Loads.TryRemove(key, out var load))
                _ = load.ContinueWith(static t => t.Result.Dispose(), CancellationToken.None, TaskContinuationOptions.OnlyOnRanToCompletion, TaskScheduler.Default);
        }
    }

    /// <summary>The package's folder and manifest time, and every setting that shapes the ONNX Runtime session.</summary>
    private static string? Key(string directory, OnnxRuntimeOptions runtime)
    {
        var full = Path.GetFullPath(directory);
        var manifest = new FileInfo(Path.Combine(full, ModelManifest.FileName));
        if (!manifest.Exists)
            return null;
        return string.Join('|', full, manifest.LastWriteTimeUtc.Ticks, runtime.EffectiveIntraOpThreads, runtime.AllowSpinning, runtime.GraphOptimization, runtime.SliceResidency, runtime.LogLevel);
    }
}

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
    private static readonly ConcurrentDictionary<string, Load> Loads = new(StringComparer.Ordinal);

    /// <summary>A preload: the pipeline once built (<paramref name="Created"/>), and the whole job with its warm-up run (<paramref name="Done"/>).</summary>
    private sealed record Load(Task<InferencePipeline> Created, Task Done);

    /// <summary>
    /// Starts loading <paramref name="package"/>, then running one prediction so that its first request finds it warm.
    /// The pipeline can be taken as soon as it is built: a request waiting by then runs beside the warm-up run, on an
    /// engine of its own, instead of after it.
    /// </summary>
    public static void Start(ModelPackage package, OnnxRuntimeOptions runtime)
    {
        ArgumentNullException.ThrowIfNull(package);
        ArgumentNullException.ThrowIfNull(runtime);
        var key = Key(package.Directory, runtime);
        if (key is null || Loads.ContainsKey(key))
            return;

        var created = new TaskCompletionSource<InferencePipeline>(TaskCreationOptions.RunContinuationsAsynchronously);
        var job = new Task(() =>
        {
            InferencePipeline pipeline;
            try
            {
                pipeline = InferencePipeline.Create(package, runtime);
            }
            catch (Exception ex)
            {
                // Handed to the taker, who loads the model itself when this is a problem with the package.
                created.SetException(ex);
                return;
            }

            // The pipeline is handed on before its warm-up run, so that a request already waiting runs beside it.
            pipeline.AnnounceWarmUp();
            created.SetResult(pipeline);
            try
            {
                pipeline.WarmUp();
            }
            catch (Exception ex) when (ex is InvalidOperationException or ArgumentException or OnnxRuntimeException)
            {
                // Kept in the pipeline's warm-up run, where the readiness check finds it (and tries a run of its own).
            }
        });
        // Only the start that registers the preload runs it.
        if (Loads.TryAdd(key, new Load(created.Task, job)))
            job.Start(TaskScheduler.Default);
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
            return load.Created.GetAwaiter().GetResult();
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

    /// <summary>
    /// Releases every preloaded pipeline nobody took, each once its load and warm-up run are over; the task ends when
    /// all are released.
    /// </summary>
    public static Task DiscardUnclaimed()
    {
        var released = new List<Task>();
        foreach (var key in Loads.Keys)
        {
            if (Loads.TryRemove(key, out var load))
                released.Add(load.Done.ContinueWith(_ => { if (load.Created.IsCompletedSuccessfully) load.Created.Result.Dispose(); }, CancellationToken.None, TaskContinuationOptions.None, TaskScheduler.Default));
        }

        return Task.WhenAll(released);
    }

    /// <summary>The package's folder and manifest time, and every setting that shapes the ONNX Runtime session.</summary>
    private static string? Key(string directory, OnnxRuntimeOptions runtime)
    {
        var full = Path.GetFullPath(directory);
        var manifest = new FileInfo(Path.Combine(full, ModelManifest.FileName));
        if (!manifest.Exists)
            return null;
        return string.Join('|', full, manifest.LastWriteTimeUtc.Ticks, runtime.EffectiveIntraOpThreads, runtime.AllowSpinning, runtime.GraphOptimization, runtime.SharedArena, runtime.ShareWeights, runtime.SliceResidency, runtime.LogLevel);
    }
}

using Microsoft.Extensions.Options;

namespace FunctionApp.Inference;

/// <summary>
/// <c>OnnxRuntime:IntraOpThreads</c> left at 0 (automatic) becomes the machine's cores shared out over the engines
/// that can run at once, so that engines times threads matches the cores: on 2 cores with 2 engines, one thread per
/// inference. Two single-threaded runs side by side outran two-threaded runs competing for the same cores (and the
/// image decoding) under concurrent load; a single engine still gets every core.
/// </summary>
public sealed class MatchThreadsToEngines(IOptions<EnginePoolOptions> engines) : IPostConfigureOptions<OnnxRuntimeOptions>
{
    public void PostConfigure(string? name, OnnxRuntimeOptions options) => Apply(options, engines.Value);

    /// <summary>The same rule, for a caller that binds the options itself.</summary>
    public static void Apply(OnnxRuntimeOptions options, EnginePoolOptions engines)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(engines);
        if (options.IntraOpThreads > 0)
            return;
        int cores = Environment.ProcessorCount;
        int concurrent = Math.Clamp(engines.MaxEngines, 1, cores);
        options.IntraOpThreads = Math.Max(1, cores / concurrent);
    }
}

using System.ComponentModel.DataAnnotations;
using Microsoft.ML.OnnxRuntime;

namespace FunctionApp.Inference;

/// <summary>ONNX Runtime session settings (configuration section <c>OnnxRuntime</c>).</summary>
public sealed class OnnxRuntimeOptions
{
    public const string SectionName = "OnnxRuntime";

    /// <summary>
    /// Threads one inference may use; 0 means automatic: in the hosts, the cores shared out over the engines that may
    /// run at once (see <see cref="MatchThreadsToEngines"/>); elsewhere one per processor.
    /// </summary>
    [Range(0, 256)]
    public int IntraOpThreads { get; set; }

    /// <summary>
    /// Whether idle intra-op threads spin waiting for work. Off by default: on a small instance the same
    /// cores also decode images, and spinning steals their time after every run.
    /// </summary>
    public bool AllowSpinning { get; set; }

    public GraphOptimizationLevel GraphOptimization { get; set; } = GraphOptimizationLevel.ORT_ENABLE_ALL;

    /// <summary>
    /// For sliced models: keep every slice loaded (<see cref="SliceResidency.AllResident"/>, fast), or
    /// load, run and release one slice at a time (<see cref="SliceResidency.OneAtATime"/>: peak memory
    /// near the largest slice, each inference several times slower).
    /// </summary>
    public SliceResidency SliceResidency { get; set; } = SliceResidency.AllResident;

    /// <summary>
    /// The least severe of ONNX Runtime's own log messages (which it writes to standard error) that its sessions print;
    /// unset leaves the process default: warnings, or errors only on the command line without <c>--verbose</c>.
    /// </summary>
    public OrtLoggingLevel? LogLevel { get; set; }

    /// <summary>
    /// Threads for an inference that starts while no other inference of the same model version is running; 0 (the
    /// default) turns this off. When it is more than the intra-op threads, each loaded version gets a second ONNX
    /// Runtime session with this many threads, loaded in the background after its first prediction, so that a lone
    /// request uses several cores while concurrent ones keep one thread each (a session's threads cannot change per
    /// run). It costs a second copy of the model in memory: for ResNet-18 about 140 MB resident.
    /// </summary>
    [Range(0, 256)]
    public int LoneRunThreads { get; set; }

    public int EffectiveIntraOpThreads => IntraOpThreads > 0 ? IntraOpThreads : Environment.ProcessorCount;

    /// <summary>Whether a lone run gets more threads than a concurrent one, and so a session of its own.</summary>
    public bool HasLoneSession => LoneRunThreads > EffectiveIntraOpThreads;

    /// <summary>The same settings for the lone-run session: its threads as the intra-op threads.</summary>
    public OnnxRuntimeOptions ForLoneRuns()
    {
        var copy = (OnnxRuntimeOptions)MemberwiseClone();
        copy.IntraOpThreads = LoneRunThreads;
        return copy;
    }

    /// <summary>Builds session options; the caller (ONNX Runtime via ML.NET) owns the result.</summary>
    public SessionOptions CreateSessionOptions()
    {
        var options = new SessionOptions
        {
            IntraOpNumThreads = EffectiveIntraOpThreads,
            InterOpNumThreads = 1,
            ExecutionMode = ExecutionMode.ORT_SEQUENTIAL,
            GraphOptimizationLevel = GraphOptimization,
        };
        if (LogLevel is { } level)
            options.LogSeverityLevel = level;
        options.AddSessionConfigEntry("session.intra_op.allow_spinning", AllowSpinning ? "1" : "0");
        options.AddSessionConfigEntry("session.inter_op.allow_spinning", AllowSpinning ? "1" : "0");
        return options;
    }
}

using System.ComponentModel.DataAnnotations;
using System.Runtime.Intrinsics.X86;
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

    /// <summary>
    /// Whether the lone-run session's threads (see <see cref="LoneRunThreads"/>) spin waiting for work, as
    /// <see cref="AllowSpinning"/> does for every session. Like all spinning here, they stop as soon as the run returns,
    /// so the cores are left to the next request's decoding. On by default: without it every operator of a run wakes a
    /// sleeping thread. On 2 cores, one request at a time: light model p50 about 1.5-2.5 ms lower (inference 7-8.5 ->
    /// 6-6.5 ms), ResNet-18 1-3 ms; concurrent requests use the pooled sessions and are unchanged. What it costs: the
    /// p99 of a lone request rises by a few milliseconds, since a spinning thread that loses its core (to the garbage
    /// collector) holds up the whole run.
    /// </summary>
    public bool LoneRunSpinning { get; set; } = true;

    public GraphOptimizationLevel GraphOptimization { get; set; } = GraphOptimizationLevel.ORT_ENABLE_ALL;

    /// <summary>
    /// Whether sessions take the memory for their runs' tensors from one arena shared by the whole process (see
    /// <see cref="Inference.SharedArena"/>) instead of an arena each. On by default: a model's lone-run session and any
    /// other model loaded beside it then reuse the same blocks, since an arena keeps what it has grown to; with the light
    /// model at 2 cores, peak RSS 5-15 MB lower, latency and throughput unchanged.
    /// </summary>
    public bool SharedArena { get; set; } = true;

    /// <summary>
    /// Whether sessions loaded from a model saved with its weights in a file beside it (an optimized-model cache entry, a
    /// prepared model) read the weights from one mapping of that file for the whole process (see
    /// <see cref="Inference.SharedWeights"/>), instead of ONNX Runtime mapping every weight again for each session. Each
    /// mapping counts in the process's resident memory: a model's lone-run session doubled its weights there. On by default.
    /// </summary>
    public bool ShareWeights { get; set; } = true;

    /// <summary>
    /// Whether an int8 model's products stay exact on x86-64 CPUs without VNNI (AVX2, or AVX-512 without VNNI), where
    /// ONNX Runtime's faster U8S8 kernels add pairs of products in 16 bits and can saturate: on, ONNX Runtime gives
    /// such a model's weights its U8U8 kernels there instead (slower; ResNet-18 int8 on one AVX2 core about 36 against
    /// 28 ms). CPUs with VNNI (see <see cref="CpuHasVnni"/>), and float models, are unaffected either way. Turn it off
    /// only for a model whose answers were checked on the same kind of CPU with it off.
    /// </summary>
    public bool ExactInt8Products { get; set; } = true;

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
    /// Threads for an inference that starts while no other request for the same model version is in progress; -1 (the
    /// default) is automatic: the machine's cores, for a model whose first run took at least
    /// <see cref="LoneRunMinFirstRunMs"/>, and only while <see cref="CacheOptimizedModels"/> is on; 0 turns this off.
    /// When it is more than the intra-op threads, each loaded version gets a second ONNX Runtime session with this many
    /// threads, loaded in the background after its first prediction, so that a lone request uses several cores while
    /// concurrent ones keep one thread each (a session's threads cannot change per run). Loaded from the
    /// optimized-model cache, the second session maps the same weights file as the first instead of holding a private
    /// copy (ResNet-18: about 70 MB more resident, against about 140 MB without the cache; with <see cref="ShareWeights"/>,
    /// both read one mapping of the weights, about 65 MB less again).
    /// </summary>
    [Range(-1, 256)]
    public int LoneRunThreads { get; set; } = -1;

    /// <summary>
    /// With <see cref="LoneRunThreads"/> automatic: how long a model's first run must take for it to get a lone-run
    /// session. A model that runs in a few milliseconds spends most of a request decoding the image, so a second
    /// core for its inference saves little and its session's memory is not worth it.
    /// </summary>
    [Range(0, 600_000)]
    public int LoneRunMinFirstRunMs { get; set; } = 20;

    /// <summary>The lone-run threads after the automatic setting is resolved (0 when off).</summary>
    public int EffectiveLoneRunThreads => LoneRunThreads switch
    {
        < 0 when CacheOptimizedModels => Environment.ProcessorCount,
        < 0 => 0,
        _ => LoneRunThreads,
    };

    /// <summary>How long a first run must take for its model to get a lone-run session: zero unless automatic.</summary>
    public TimeSpan LoneRunMinFirstRun => LoneRunThreads < 0 ? TimeSpan.FromMilliseconds(LoneRunMinFirstRunMs) : TimeSpan.Zero;

    /// <summary>
    /// Whether models are kept, once ONNX Runtime has optimized them, in a cache on this machine's disk (see
    /// <see cref="OptimizedModelCache"/>): later loads of the same model (a restart, a second session, a reload) read
    /// the optimized graph with its weights mapped from the file, several times faster and without a private copy of
    /// the weights. On by default.
    /// </summary>
    public bool CacheOptimizedModels { get; set; } = true;

    /// <summary>The cache's folder; unset means <c>functionapp-ort-cache</c> under the system's temporary folder.</summary>
    public string? OptimizedModelCacheFolder { get; set; }

    /// <summary>
    /// Whether a model that has a prepared form in <see cref="PreparedModelsFolder"/> (see <see cref="PreparedModels"/>)
    /// loads from it when this machine's optimized-model cache has no entry for it. On by default.
    /// </summary>
    public bool UsePreparedModels { get; set; } = true;

    /// <summary>The folder of prepared models; unset means <c>prepared-models</c> beside the app, where the build puts them.</summary>
    public string? PreparedModelsFolder { get; set; }

    public int EffectiveIntraOpThreads => IntraOpThreads > 0 ? IntraOpThreads : Environment.ProcessorCount;

    /// <summary>Whether a lone run gets more threads than a concurrent one, and so a session of its own.</summary>
    public bool HasLoneSession => EffectiveLoneRunThreads > EffectiveIntraOpThreads;

    /// <summary>The same settings for the lone-run session: its threads as the intra-op threads.</summary>
    public OnnxRuntimeOptions ForLoneRuns()
    {
        var copy = (OnnxRuntimeOptions)MemberwiseClone();
        copy.IntraOpThreads = EffectiveLoneRunThreads;
        copy.LoneRunThreads = 0;
        copy.AllowSpinning = AllowSpinning || LoneRunSpinning;
        return copy;
    }

    /// <summary>
    /// Whether this app's sessions run int8 on ONNX Runtime's exact kernels here: <see cref="ExactInt8Products"/> is on
    /// and the CPU lacks VNNI. ONNX Runtime would apply the setting on every x86-64 CPU with AVX2, VNNI or not, and so
    /// give up the VNNI kernels, whose products are exact already: it is set only where they are missing.
    /// </summary>
    public bool UsesExactInt8Kernels => ExactInt8Products && !CpuHasVnni.Value;

    /// <summary>ONNX Runtime's session setting behind <see cref="ExactInt8Products"/>.</summary>
    public const string ExactInt8ProductsKey = "session.x64quantprecision";

    /// <summary>
    /// Whether ONNX Runtime multiplies int8 on this CPU with VNNI (AVX-512 VNNI, usable only where AVX-512 is, or
    /// AVX-VNNI), whose products do not saturate; false elsewhere, including CPUs that are not x86.
    /// </summary>
    public static readonly Lazy<bool> CpuHasVnni = new(() =>
        X86Base.IsSupported && ((Avx512F.IsSupported && (X86Base.CpuId(7, 0).Ecx & (1 << 11)) != 0) || AvxVnni.IsSupported));

    /// <summary>Builds session options; the caller (ONNX Runtime via ML.NET) owns the result.</summary>
    public SessionOptions CreateSessionOptions() => CreateSessionOptions(GraphOptimization);

    /// <summary>The same settings at another optimization level (a model ONNX Runtime has already optimized loads with none).</summary>
    public SessionOptions CreateSessionOptions(GraphOptimizationLevel optimization)
    {
        var options = new SessionOptions
        {
            IntraOpNumThreads = EffectiveIntraOpThreads,
            InterOpNumThreads = 1,
            ExecutionMode = ExecutionMode.ORT_SEQUENTIAL,
            GraphOptimizationLevel = optimization,
        };
        if (LogLevel is { } level)
            options.LogSeverityLevel = level;
        options.AddSessionConfigEntry("session.intra_op.allow_spinning", AllowSpinning ? "1" : "0");
        options.AddSessionConfigEntry("session.inter_op.allow_spinning", AllowSpinning ? "1" : "0");
        // Spinning shortens the hand-off between operators within a run; once the last run returns, the threads block
        // at once instead of spinning on, so they do not take the cores from the image decoding that follows.
        if (AllowSpinning)
            options.AddSessionConfigEntry("session.force_spinning_stop", "1");
        if (UsesExactInt8Kernels)
            options.AddSessionConfigEntry(ExactInt8ProductsKey, "1");
        if (SharedArena && Inference.SharedArena.EnsureRegistered())
            options.AddSessionConfigEntry(Inference.SharedArena.SessionConfigKey, "1");
        return options;
    }
}

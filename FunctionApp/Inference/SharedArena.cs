using Microsoft.ML.OnnxRuntime;

namespace FunctionApp.Inference;

/// <summary>
/// One ONNX Runtime arena for the working memory (the tensors between operators) of every session in the process that
/// asks for it (<see cref="OnnxRuntimeOptions.SharedArena"/>), registered with ONNX Runtime's environment the first time
/// a session asks. An arena keeps what it has grown to for later runs; each session's own arena would keep its own
/// high-water mark, so a model's second session (the lone-run one) or a second model doubled that memory though the
/// runs that need it rarely overlap.
/// </summary>
public static class SharedArena
{
    /// <summary>The session setting that makes a session allocate from the environment's arena.</summary>
    public const string SessionConfigKey = "session.use_env_allocators";

    private static readonly Lazy<bool> Registered = new(Register);

    /// <summary>
    /// Registers the arena once per process; true when it is there for sessions to use. False if ONNX Runtime refused it,
    /// in which case sessions keep arenas of their own, as they would with the setting off.
    /// </summary>
    public static bool EnsureRegistered() => Registered.Value;

    private static bool Register()
    {
        try
        {
            using var memory = new OrtMemoryInfo(OrtMemoryInfo.allocatorCPU, OrtAllocatorType.ArenaAllocator, 0, OrtMemType.Default);
            // ONNX Runtime's defaults for a CPU arena: no size limit (the runs that can be in flight at once bound it),
            // growth in powers of two, the default first block and split threshold.
            using var settings = new OrtArenaCfg(0, -1, -1, -1);
            OrtEnv.Instance().CreateAndRegisterAllocator(memory, settings);
            return true;
        }
        catch (OnnxRuntimeException)
        {
            return false;
        }
    }
}

using System.ComponentModel.DataAnnotations;

namespace FunctionApp.Inference;

/// <summary>Engine pool settings (configuration section <c>EnginePool</c>).</summary>
public sealed class EnginePoolOptions
{
    public const string SectionName = "EnginePool";

    /// <summary>
    /// Most prediction engines per model version, and so most concurrent inferences; callers beyond it
    /// wait. Engines are small (they share the model), but each runs on the shared ONNX session's threads.
    /// One per core by default: more concurrent runs than cores only queue inside the CPU, and lengthen the tail.
    /// </summary>
    [Range(1, 256)]
    public int MaxEngines { get; set; } = Environment.ProcessorCount;

    /// <summary>How a batch of images is scored (see <see cref="BatchScoring"/>).</summary>
    public BatchScoring BatchScoring { get; set; } = BatchScoring.ParallelEngines;

    /// <summary>
    /// With <see cref="OnnxRuntimeOptions.LoneRunThreads"/> on: how long after a version's first prediction its lone-run
    /// session starts loading, so that the load does not take a core from a cold start's first requests.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:00", "01:00:00")]
    public TimeSpan LoneSessionDelay { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>
    /// After a run, collect the managed heap's youngest generation once the process has allocated this many bytes since
    /// its last collection (see <see cref="Gen0Pacing"/>); 0 leaves it to the collector. ML.NET's copy of every input
    /// tensor passes through it, and the collector would otherwise let it grow to 16 MB first.
    /// </summary>
    [Range(0, 1L << 30)]
    public long CollectGen0AfterBytes { get; set; } = 4L << 20;
}

public enum BatchScoring
{
    /// <summary>Single runs spread over the pooled engines, up to one per processor.</summary>
    ParallelEngines,

    /// <summary>The whole batch as one ML.NET IDataView through the transformer (rows run one after another).</summary>
    DataView,
}

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
}

public enum BatchScoring
{
    /// <summary>Single runs spread over the pooled engines, up to one per processor.</summary>
    ParallelEngines,

    /// <summary>The whole batch as one ML.NET IDataView through the transformer (rows run one after another).</summary>
    DataView,
}

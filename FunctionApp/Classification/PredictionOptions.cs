using System.ComponentModel.DataAnnotations;

namespace FunctionApp.Classification;

/// <summary>Defaults for answers (configuration section <c>Prediction</c>).</summary>
public sealed class PredictionOptions
{
    public const string SectionName = "Prediction";

    /// <summary>How many labels an answer lists when the caller does not say.</summary>
    [Range(1, 1000)]
    public int DefaultTopK { get; set; } = 5;

    /// <summary>How many images one request or batch call may carry.</summary>
    [Range(1, 10_000)]
    public int MaxBatchImages { get; set; } = 64;
}

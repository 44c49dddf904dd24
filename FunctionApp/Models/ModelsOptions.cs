using System.ComponentModel.DataAnnotations;

namespace FunctionApp.Models;

/// <summary>Where model packages live and which one serves by default (configuration section <c>Models</c>).</summary>
public sealed class ModelsOptions
{
    public const string SectionName = "Models";

    /// <summary>The folder laid out <c>{name}/{version}/model.json</c>; empty means the <c>models</c> folder shipped beside the app.</summary>
    public string Root { get; set; } = string.Empty;

    /// <summary>
    /// The model used when a request names none. Unset means the only model under <see cref="Root"/>; with several
    /// models there and this unset, the hosts refuse to start (see <see cref="DefaultModelValidator"/>).
    /// </summary>
    [RegularExpression("^[A-Za-z0-9._-]+$", ErrorMessage = "Models:Default must be a model name (letters, digits, '.', '_' or '-').")]
    public string? Default { get; set; }

    /// <summary>
    /// <see cref="ModelWarmUp.Lazy"/> (default): the default model loads on the first request that needs it.
    /// <see cref="ModelWarmUp.Eager"/>: it loads, and runs one prediction, in the background as the app starts,
    /// so the first request after a scale-out does not pay for it (readiness says when it is done).
    /// </summary>
    public ModelWarmUp WarmUp { get; set; } = ModelWarmUp.Lazy;

    /// <summary>
    /// Canary splits: for a model, the weight of each version among requests that name no version, for
    /// example <c>Models:Canary:fashion-resnet18:1 = 90</c> and <c>...:2 = 10</c>.
    /// </summary>
    public Dictionary<string, Dictionary<string, int>> Canary { get; } = new(StringComparer.Ordinal);

    /// <summary>How often the models root is checked for new versions to load and switch to; zero turns it off.</summary>
    [Range(typeof(TimeSpan), "00:00:00", "1.00:00:00")]
    public TimeSpan RefreshInterval { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// <see cref="ModelSource.Local"/> (default): packages in <see cref="Root"/>. <see cref="ModelSource.Blob"/>:
    /// packages published to the <c>models</c> container of the storage connection, laid out
    /// <c>{name}/{version}/</c> and cached in <see cref="Root"/> (default: a folder under the system temp path).
    /// </summary>
    public ModelSource Source { get; set; } = ModelSource.Local;

    public string ResolvedRoot => !string.IsNullOrWhiteSpace(Root) ? Path.GetFullPath(Root)
        : Source == ModelSource.Blob ? Path.Combine(Path.GetTempPath(), "fashion-inference-models")
        : Path.Combine(AppContext.BaseDirectory, "models");
}

public enum ModelWarmUp
{
    Lazy,
    Eager,
}

public enum ModelSource
{
    Local,
    Blob,
}

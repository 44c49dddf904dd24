using System.Text.Json.Serialization;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using FunctionApp.Imaging;

namespace FunctionApp.Inference;

/// <summary>
/// The <c>model.json</c> of a model package: everything the pipeline needs to turn an image into
/// class scores with this model, and nothing it must guess.
/// </summary>
public sealed record ModelManifest
{
    public const string FileName = "model.json";

    public required string Name { get; init; }
    public required string Version { get; init; }
    public string? Description { get; init; }

    /// <summary>The ONNX file, relative to the package folder.</summary>
    public required string OnnxFile { get; init; }
    public required string InputTensor { get; init; }
    public required string OutputTensor { get; init; }

    /// <summary>The output tensor's shape: [N,C] or [N,C,1,1]; N may be -1 (dynamic) or 1.</summary>
    public required IReadOnlyList<long> OutputShape { get; init; }

    public required PreprocessingSpec Preprocessing { get; init; }

    /// <summary>Whether the final scores are logits (softmax is applied) or already probabilities.</summary>
    public ScoreKind Scores { get; set; } = ScoreKind.Logits;

    /// <summary>An optional saved ML.NET model that maps the ONNX output (as the <c>Features</c> column) to class scores.</summary>
    public HeadSpec? Head { get; init; }

    /// <summary>
    /// The lowest top score (0 to 1) at which this model's answers are trusted: an answer whose best class scores lower
    /// says <c>lowConfidence</c>, as a picture of something the model never learned usually does. None by default.
    /// </summary>
    public float? MinScore { get; init; }

    /// <summary>A text file with one class label per line, in class-index order.</summary>
    public string Labels { get; set; } = "labels.txt";

    /// <summary>
    /// For a sliced model (made by <c>slice</c>): the sub-models in the order they run, with the tensors that
    /// cross between them. <see cref="OnnxFile"/> then names the first slice.
    /// </summary>
    public IReadOnlyList<SliceInfo>? Slices { get; init; }

    /// <summary>
    /// The package's files with their sizes and SHA-256 digests (written by <c>models seal</c>). Packages fetched
    /// from blob storage must list them, and every file is checked against them before the package is used.
    /// </summary>
    public IReadOnlyList<PackageFile>? Files { get; init; }

    /// <summary>The class count the ONNX output (or the head) produces.</summary>
    [JsonIgnore]
    public long OnnxOutputWidth => OutputShape.Count >= 2 ? OutputShape[1] : -1;

    public static JsonSerializerOptions SerializerOptions { get; } = CreateSerializerOptions();

    public static ModelManifest Parse(string json)
    {
        var manifest = JsonSerializer.Deserialize<ModelManifest>(json, SerializerOptions)
            ?? throw new JsonException("The manifest is empty.");
        return manifest;
    }

    public string ToJson() => JsonSerializer.Serialize(this, SerializerOptions);

    private static JsonSerializerOptions CreateSerializerOptions()
    {
        var options = new JsonSerializerOptions(JsonSerializerDefaults.Web)
        {
            WriteIndented = true,
            AllowTrailingCommas = true,
            ReadCommentHandling = JsonCommentHandling.Skip,
            UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
            DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
            RespectRequiredConstructorParameters = true,
            RespectNullableAnnotations = true,
        };
        options.Converters.Add(new JsonStringEnumConverter(JsonNamingPolicy.CamelCase, allowIntegerValues: false));

        // The manifest's contract comes from source-generated code: built by reflection, it cost about 60 ms of a cold
        // start's critical path (the first manifest read). Other types written with these options (reports) still
        // use reflection. Properties with defaults have setters, not init accessors: the generator would otherwise
        // overwrite their defaults when the JSON leaves them out (dotnet/runtime issue 84484).
        options.TypeInfoResolver = JsonTypeInfoResolver.Combine(ManifestJsonContext.Default, new DefaultJsonTypeInfoResolver());
        return options;
    }
}

/// <summary>Source-generated serialization metadata for <c>model.json</c>.</summary>
[JsonSerializable(typeof(ModelManifest))]
internal sealed partial class ManifestJsonContext : JsonSerializerContext;

public enum ScoreKind
{
    /// <summary>Unnormalised scores: softmax turns them into probabilities.</summary>
    Logits,

    /// <summary>Scores that already sum to one.</summary>
    Probabilities,
}

/// <summary>One file of a package: its path inside the package, size in bytes, and SHA-256 (lowercase hex).</summary>
public sealed record PackageFile(string Path, long Size, string Sha256);

/// <summary>An ML.NET model (saved with <c>MLContext.Model.Save</c>) applied to the ONNX output.</summary>
public sealed record HeadSpec
{
    public const string FeaturesColumn = "Features";
    public const string ScoreColumn = "Score";

    /// <summary>The saved ML.NET model (.zip), relative to the package folder.</summary>
    public required string File { get; init; }
}

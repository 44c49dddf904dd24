using System.Text.Json.Serialization;
using System.Text.Json;

namespace FunctionApp.Storage;

/// <summary>
/// The JSON settings of the records the app keeps in storage (outcome records, job progress, parts, chain state,
/// queue messages): camelCase, enums as camelCase strings, nulls left out, unknown fields ignored. Separate from the
/// HTTP API's settings so that neither format changes when the other does.
/// </summary>
public static class RecordJson
{
    public static JsonSerializerOptions Options { get; } = Create();

    private static JsonSerializerOptions Create()
    {
        var options = new JsonSerializerOptions(JsonSerializerDefaults.Web)
        {
            DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
            AllowTrailingCommas = true,
            ReadCommentHandling = JsonCommentHandling.Skip,
            Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        };
        options.Converters.Add(new JsonStringEnumConverter(JsonNamingPolicy.CamelCase));
        options.MakeReadOnly(populateMissingResolver: true);
        return options;
    }
}

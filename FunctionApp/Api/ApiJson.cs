using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;
using FunctionApp.Classification;
using System.Text.Json;

namespace FunctionApp.Api;

/// <summary>The JSON settings of the HTTP API: camelCase, enums as camelCase strings, nulls left out, unknown fields ignored.</summary>
public static class ApiJson
{
    public static JsonSerializerOptions Options { get; } = Create();

    private static JsonSerializerOptions Create()
    {
        var options = new JsonSerializerOptions(JsonSerializerDefaults.Web)
        {
            DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
            AllowTrailingCommas = true,
            ReadCommentHandling = JsonCommentHandling.Skip,

            // Responses are application/json, never HTML: apostrophes in messages need no escaping.
            Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        };
        options.Converters.Add(new JsonStringEnumConverter(JsonNamingPolicy.CamelCase));

        // The prediction answer's contract from source-generated code: built by reflection, the first answer after a
        // cold start waited for it. Every other type still gets reflection-based metadata.
        options.TypeInfoResolver = JsonTypeInfoResolver.Combine(ApiJsonContext.Default, new DefaultJsonTypeInfoResolver());
        options.MakeReadOnly();
        return options;
    }
}

/// <summary>Source-generated serialization metadata for the prediction answer.</summary>
[JsonSerializable(typeof(PredictionResult))]
internal sealed partial class ApiJsonContext : JsonSerializerContext;

using System.Globalization;
using Microsoft.AspNetCore.Http;

namespace FunctionApp.Api;

/// <summary>The <c>minScore</c> query parameter of <c>/api/predict</c>: this request's confidence floor, from 0 to 1.</summary>
public static class MinScoreQuery
{
    public const string Name = "minScore";

    /// <summary>The floor the request asks for, or null when it names none (the model's own then applies).</summary>
    /// <exception cref="ApiRequestException">The value is not a number from 0 to 1.</exception>
    public static float? Read(IQueryCollection query)
    {
        ArgumentNullException.ThrowIfNull(query);
        if (!query.TryGetValue(Name, out var text) || string.IsNullOrWhiteSpace(text))
            return null;
        if (!float.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var value) || !(value >= 0f && value <= 1f))
            throw ApiRequestException.BadRequest($"'{Name}' must be a number from 0 to 1 (got '{text}').");
        return value;
    }
}

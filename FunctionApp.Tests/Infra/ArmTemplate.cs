using System.Text.Json;
using System.Text.RegularExpressions;

namespace FunctionApp.Tests.Infra;

/// <summary>Reading compiled Bicep (ARM JSON): resources through nested module deployments, and their names.</summary>
public static partial class ArmTemplate
{
    /// <summary>A resource and the template that declares it (whose variables its expressions may use).</summary>
    public sealed record Resource(JsonElement Json, JsonElement Template)
    {
        public string Type => Json.GetProperty("type").GetString()!;

        public JsonElement Properties => Json.GetProperty("properties");

        public string? Property(string name) => Properties.TryGetProperty(name, out var value) ? value.ToString() : null;

        public override string ToString() => $"{Type} {Json.GetProperty("name")}";
    }

    /// <summary>
    /// Every resource of the template and of the templates of its modules (Microsoft.Resources/deployments),
    /// depth first. <c>resources</c> is an array, or an object keyed by symbolic name (languageVersion 2.0).
    /// </summary>
    public static IEnumerable<Resource> Resources(JsonElement template)
    {
        if (!template.TryGetProperty("resources", out var resources))
            yield break;
        var items = resources.ValueKind == JsonValueKind.Object
            ? resources.EnumerateObject().Select(p => p.Value)
            : resources.EnumerateArray();
        foreach (var item in items)
        {
            var resource = new Resource(item, template);
            yield return resource;
            if (resource.Type == "Microsoft.Resources/deployments" && resource.Properties.TryGetProperty("template", out var inner))
            {
                foreach (var nested in Resources(inner))
                    yield return nested;
            }
        }
    }

    public static IEnumerable<Resource> OfType(this IEnumerable<Resource> resources, string type) =>
        resources.Where(r => string.Equals(r.Type, type, StringComparison.OrdinalIgnoreCase));

    /// <summary>
    /// The last segment of a child resource's name, as Bicep compiles it:
    /// <c>[format('{0}/{1}/{2}', parameters('name'), 'default', 'images')]</c> is <c>images</c>, and a loop over a
    /// variable, <c>[format(..., variables('names')[copyIndex()])]</c>, is every item of that variable.
    /// </summary>
    public static IReadOnlyList<string> LeafNames(this Resource resource)
    {
        var name = resource.Json.GetProperty("name").GetString()!;
        if (LoopOverVariable().Match(name) is { Success: true } loop)
            return [.. resource.Template.GetProperty("variables").GetProperty(loop.Groups[1].Value).EnumerateArray().Select(e => e.GetString()!)];
        var literal = LastLiteral().Match(name);
        Assert.True(literal.Success, $"The name of a {resource.Type} is neither a literal nor a loop over a variable: {name}");
        return [literal.Groups[1].Value];
    }

    [GeneratedRegex(@"variables\('(\w+)'\)\[copyIndex\(\)\]\)\]$")]
    private static partial Regex LoopOverVariable();

    [GeneratedRegex(@"'([^']+)'\)\]$")]
    private static partial Regex LastLiteral();
}

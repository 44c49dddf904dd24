using System.Text.Json;

namespace FunctionApp.Tests.Infra;

/// <summary>
/// The blob-triggered functions as the Functions host sees them: the build's functions.metadata (the same file
/// Functions/FunctionsMetadataTests.cs checks), so the infrastructure is compared with the real bindings.
/// </summary>
public static class BlobTriggers
{
    public sealed record Trigger(string Function, string Container, bool EventGrid);

    private static readonly Lazy<Trigger[]> Loaded = new(Load);

    public static IReadOnlyList<Trigger> All => Loaded.Value;

    public static IEnumerable<Trigger> Polling => All.Where(t => !t.EventGrid);

    public static IEnumerable<Trigger> EventGrid => All.Where(t => t.EventGrid);

    private static Trigger[] Load()
    {
        var path = Path.Combine(AppContext.BaseDirectory, "functions.metadata");
        Assert.True(File.Exists(path), $"{path} is missing: the Functions SDK writes it when FunctionApp builds");
        using var document = JsonDocument.Parse(File.ReadAllText(path));
        var triggers = new List<Trigger>();
        foreach (var function in document.RootElement.EnumerateArray())
        {
            var binding = function.GetProperty("bindings").EnumerateArray().Single(b => b.GetProperty("direction").GetString() == "In");
            if (binding.GetProperty("type").GetString() != "blobTrigger")
                continue;
            var blobPath = binding.GetProperty("path").GetString()!;
            var source = binding.TryGetProperty("source", out var s) ? s.GetString() : null;
            triggers.Add(new Trigger(function.GetProperty("name").GetString()!, blobPath[..blobPath.IndexOf('/', StringComparison.Ordinal)], source == "EventGrid"));
        }

        Assert.NotEmpty(triggers);
        return [.. triggers];
    }
}

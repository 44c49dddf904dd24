using Microsoft.Extensions.Options;

namespace FunctionApp.Inference;

/// <summary>A model version that can be served: where its package lives.</summary>
public sealed record ModelEntry(string Name, string Version, string Directory);

/// <summary>The requested model or version does not exist.</summary>
public sealed class ModelNotFoundException : Exception
{
    public ModelNotFoundException(string message)
        : base(message)
    {
    }

    public ModelNotFoundException()
        : base("The model does not exist.")
    {
    }

    public ModelNotFoundException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}

/// <summary>
/// The model packages under the models root, laid out <c>{name}/{version}/</c>. The newest version of a
/// model serves unless a request pins one.
/// </summary>
public sealed class ModelCatalog(IOptions<ModelsOptions> options)
{
    private readonly ModelsOptions _options = options.Value;

    public string Root => _options.ResolvedRoot;
    public string DefaultModel => _options.Default;

    /// <summary>Every model version found, newest version of each model first.</summary>
    public IReadOnlyList<ModelEntry> List()
    {
        if (!Directory.Exists(Root))
            return [];
        return Directory.EnumerateDirectories(Root)
            .OrderBy(Path.GetFileName, StringComparer.Ordinal)
            .SelectMany(modelDir => Directory.EnumerateDirectories(modelDir)
                .Where(v => File.Exists(Path.Combine(v, ModelManifest.FileName)))
                .Select(v => new ModelEntry(Path.GetFileName(modelDir), Path.GetFileName(v), v))
                .OrderByDescending(e => e.Version, VersionComparer.Instance))
            .ToList();
    }

    /// <summary>Finds a model version: the default model when no name is given, the newest version when no version is.</summary>
    /// <exception cref="ModelNotFoundException">No such model or version.</exception>
    public ModelEntry Resolve(string? name = null, string? version = null)
    {
        name = string.IsNullOrWhiteSpace(name) ? DefaultModel : name;
        var versions = List().Where(e => e.Name == name).ToList();
        if (versions.Count == 0)
            throw new ModelNotFoundException($"No model named '{name}' is available.");
        if (string.IsNullOrWhiteSpace(version))
            return versions[0];
        return versions.FirstOrDefault(e => e.Version == version)
            ?? throw new ModelNotFoundException($"Model '{name}' has no version '{version}' (available: {string.Join(", ", versions.Select(v => v.Version))}).");
    }
}

/// <summary>Orders versions by their dot-separated parts, numerically where both parts are numbers ("10" after "9").</summary>
public sealed class VersionComparer : IComparer<string>
{
    public static VersionComparer Instance { get; } = new();

    public int Compare(string? x, string? y)
    {
        var a = (x ?? string.Empty).Split('.');
        var b = (y ?? string.Empty).Split('.');
        for (int i = 0; i < Math.Max(a.Length, b.Length); i++)
        {
            if (i >= a.Length)
                return -1;
            if (i >= b.Length)
                return 1;
            int order = long.TryParse(a[i], out var na) && long.TryParse(b[i], out var nb)
                ? na.CompareTo(nb)
                : string.CompareOrdinal(a[i], b[i]);
            if (order != 0)
                return order;
        }

        return 0;
    }
}

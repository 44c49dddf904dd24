using FunctionApp.Inference;
using Microsoft.Extensions.Options;

namespace FunctionApp.Models;

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
/// The model packages under the models root, laid out <c>{name}/{version}/</c>. A request that names no version
/// gets the model's active version: the newest when the model is first used, then whatever
/// <see cref="ModelRefreshService"/> switches to once a newer version has loaded, or, with a canary split
/// configured (<c>Models:Canary:{name}:{version}</c> = weight), a version drawn by weight. A version that failed
/// to load is rejected: unpinned requests skip it for the newest version that loads.
/// </summary>
public sealed class ModelCatalog(IOptions<ModelsOptions> options)
{
    private readonly ModelsOptions _options = options.Value;
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, ModelEntry> _active = new(StringComparer.Ordinal);
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, string> _rejected = new(StringComparer.Ordinal);
    private volatile IReadOnlyList<ModelEntry>? _listing;

    private volatile string? _onlyModel;

    public string Root => _options.ResolvedRoot;

    /// <summary>
    /// The model requests that name none get: <c>Models:Default</c>, or, when that is unset, the only model under the
    /// root (kept once found, so a model added later does not change it). Null when it is unset and the root holds no
    /// model or several.
    /// </summary>
    public string? DefaultModel
    {
        get
        {
            if (!string.IsNullOrWhiteSpace(_options.Default))
                return _options.Default;
            if (_onlyModel is { } only)
                return only;
            var names = ModelNames(Root);
            return names.Count == 1 ? _onlyModel = names[0] : null;
        }
    }

    /// <summary>The names of the models under a root: folders holding at least one version with a manifest.</summary>
    public static IReadOnlyList<string> ModelNames(string root) =>
        !Directory.Exists(root) ? [] : Directory.EnumerateDirectories(root)
            .Where(model => Directory.EnumerateDirectories(model).Any(version => File.Exists(Path.Combine(version, ModelManifest.FileName))))
            .Select(model => Path.GetFileName(model))
            .Order(StringComparer.Ordinal)
            .ToList();

    private string NoDefault()
    {
        var names = ModelNames(Root);
        return names.Count == 0
            ? "No model was named, and there is no default: Models:Default is not set and the models root holds no model."
            : $"No model was named, and there is no default: Models:Default is not set and the models root holds {names.Count} models ({string.Join(", ", names)}). Name one in the request, or set Models:Default.";
    }

    /// <summary>Every model version on disk now, newest version of each model first.</summary>
    public IReadOnlyList<ModelEntry> List()
    {
        if (!Directory.Exists(Root))
            return _listing = [];
        return _listing = Directory.EnumerateDirectories(Root)
            .OrderBy(Path.GetFileName, StringComparer.Ordinal)
            .SelectMany(modelDir => Directory.EnumerateDirectories(modelDir)
                .Where(v => File.Exists(Path.Combine(v, ModelManifest.FileName)))
                .Select(v => new ModelEntry(Path.GetFileName(modelDir), Path.GetFileName(v), v))
                .OrderByDescending(e => e.Version, VersionComparer.Instance))
            .ToList();
    }

    /// <summary>Finds a model version: the default model when no name is given, the active version (or a canary draw) when no version is.</summary>
    /// <exception cref="ModelNotFoundException">No such model or version.</exception>
    public ModelEntry Resolve(string? name = null, string? version = null)
    {
        name = string.IsNullOrWhiteSpace(name) ? DefaultModel ?? throw new ModelNotFoundException(NoDefault()) : name;
        if (string.IsNullOrWhiteSpace(version) && _options.Canary.TryGetValue(name, out var split) && split.Count > 0)
            version = Draw(split);
        else if (string.IsNullOrWhiteSpace(version))
            return _active.TryGetValue(name, out var active) ? active : _active.GetOrAdd(name, _ => Newest(name));

        // Pinned requests use the last scan of the models root, and scan again only for a version it lacks.
        var found = (_listing ?? List()).FirstOrDefault(e => e.Name == name && e.Version == version)
            ?? List().FirstOrDefault(e => e.Name == name && e.Version == version);
        if (found is not null)
            return found with { Pinned = true };
        var versions = _listing!.Where(e => e.Name == name).ToList();
        if (versions.Count == 0)
            throw new ModelNotFoundException($"No model named '{name}' is available.");
        found = versions.FirstOrDefault(e => e.Version == version)
            ?? throw new ModelNotFoundException($"Model '{name}' has no version '{version}' (available: {string.Join(", ", versions.Select(v => v.Version))}).");
        return found with { Pinned = true };
    }

    /// <summary>The version unpinned requests for a model get now, or null before its first use.</summary>
    public ModelEntry? Active(string name) => _active.TryGetValue(name, out var entry) ? entry : null;

    /// <summary>Makes <paramref name="entry"/> the version unpinned requests get, in one atomic step.</summary>
    public void Activate(ModelEntry entry)
    {
        ArgumentNullException.ThrowIfNull(entry);
        _active[entry.Name] = entry with { Pinned = false };
    }

    /// <summary>
    /// Takes a version that failed to load out of service for unpinned requests, with the reason it failed. When it
    /// was the active version, the newest version not rejected becomes active. Returns the entry unpinned requests
    /// should use now, or null when no other version remains.
    /// </summary>
    public ModelEntry? Reject(ModelEntry entry, string reason)
    {
        ArgumentNullException.ThrowIfNull(entry);
        _rejected[Key(entry.Name, entry.Version)] = reason;
        if (_active.TryGetValue(entry.Name, out var active) && active.Version != entry.Version)
            return active;
        var fallback = List().FirstOrDefault(e => e.Name == entry.Name && !IsRejected(e));
        if (fallback is null)
            _active.TryRemove(entry.Name, out _);
        else
            _active[entry.Name] = fallback;
        return fallback;
    }

    /// <summary>Why a version was rejected, or null when it was not.</summary>
    public string? Rejection(string name, string version) => _rejected.TryGetValue(Key(name, version), out var reason) ? reason : null;

    /// <summary>Forgets a rejection, so that a version whose package changed may be tried again.</summary>
    public void Forgive(string name, string version) => _rejected.TryRemove(Key(name, version), out _);

    private bool IsRejected(ModelEntry entry) => _rejected.ContainsKey(Key(entry.Name, entry.Version));

    private static string Key(string name, string version) => name + "/" + version;

    /// <summary>The newest version that has not been rejected; the newest of all when every version was.</summary>
    private ModelEntry Newest(string name)
    {
        var versions = List().Where(e => e.Name == name).ToList();
        return versions.FirstOrDefault(e => !IsRejected(e)) ?? versions.FirstOrDefault()
            ?? throw new ModelNotFoundException($"No model named '{name}' is available.");
    }

    private static string Draw(IDictionary<string, int> split)
    {
        int total = split.Values.Sum(w => Math.Max(0, w));
        int pick = Random.Shared.Next(Math.Max(1, total));
        foreach (var (version, weight) in split.OrderBy(p => p.Key, StringComparer.Ordinal))
        {
            if (pick < weight)
                return version;
            pick -= Math.Max(0, weight);
        }

        return split.Keys.Max(VersionComparer.Instance)!;
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

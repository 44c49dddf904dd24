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
public sealed class ModelCatalog(IOptions<ModelsOptions> options, Random? random = null)
{
    private readonly ModelsOptions _options = options.Value;
    private readonly Random _random = random ?? Random.Shared;
    private readonly Lock _refreshLock = new();
    private volatile CatalogSnapshot? _snapshot;
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, ModelEntry> _active = new(StringComparer.Ordinal);
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, string> _rejected = new(StringComparer.Ordinal);

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
            var names = Snapshot.Names;
            return names.Count == 1 ? names[0] : null;
        }
    }

    /// <summary>What the last read of the models root found; read once on first use, then by <see cref="Refresh"/>.</summary>
    public CatalogSnapshot Snapshot => _snapshot ?? Refresh();

    /// <summary>
    /// Reads the models root again: every version's manifest and labels (no model is loaded; a version whose
    /// <c>model.json</c> has not changed keeps what the last read found). The refresh service calls this every
    /// <c>Models:RefreshInterval</c>; requests only read the result, so no request touches the disk to list or
    /// describe models.
    /// </summary>
    public CatalogSnapshot Refresh()
    {
        lock (_refreshLock)
        {
            var previous = _snapshot;
            var versions = !Directory.Exists(Root) ? [] : Directory.EnumerateDirectories(Root)
                .OrderBy(Path.GetFileName, StringComparer.Ordinal)
                .SelectMany(modelDir => Directory.EnumerateDirectories(modelDir)
                    .Where(v => File.Exists(Path.Combine(v, ModelManifest.FileName)))
                    .Select(v => new ModelEntry(Path.GetFileName(modelDir), Path.GetFileName(v), v))
                    .OrderByDescending(e => e.Version, VersionComparer.Instance))
                .Select(entry => Read(entry, previous))
                .ToList();
            return _snapshot = new CatalogSnapshot(versions);
        }
    }

    private static CatalogVersion Read(ModelEntry entry, CatalogSnapshot? previous)
    {
        var stamp = File.GetLastWriteTimeUtc(Path.Combine(entry.Directory, ModelManifest.FileName));
        if (previous?.Find(entry.Name, entry.Version) is { } known && known.ManifestWritten == stamp && known.Entry.Directory == entry.Directory)
            return known;
        try
        {
            return new CatalogVersion(entry, ModelPackage.Open(entry.Directory, PackageUse.Classifier, servedVersion: entry.Version), null, stamp);
        }
        catch (ModelPackageException ex)
        {
            return new CatalogVersion(entry, null, ex, stamp);
        }
    }

    public static IReadOnlyList<string> ModelNames(string root) =>
        !Directory.Exists(root) ? [] : Directory.EnumerateDirectories(root)
            .Where(model => Directory.EnumerateDirectories(model).Any(version => File.Exists(Path.Combine(version, ModelManifest.FileName))))
            .Select(model => Path.GetFileName(model))
            .Order(StringComparer.Ordinal)
            .ToList();

    private string NoDefault()
    {
        var names = Snapshot.Names;
        return names.Count == 0
            ? "No model was named, and there is no default: Models:Default is not set and the models root holds no model."
            : $"No model was named, and there is no default: Models:Default is not set and the models root holds {names.Count} models ({string.Join(", ", names)}). Name one in the request, or set Models:Default.";
    }

    /// <summary>Every model version the last read of the models root found, newest version of each model first.</summary>
    public IReadOnlyList<ModelEntry> List() => Snapshot.Entries;

    public ModelEntry Resolve(string? name = null, string? version = null)
    {
        name = string.IsNullOrWhiteSpace(name) ? DefaultModel ?? throw new ModelNotFoundException(NoDefault()) : name;
        if (string.IsNullOrWhiteSpace(version) && _options.Canary.TryGetValue(name, out var split) && split.Count > 0)
            version = Draw(split);
        else if (string.IsNullOrWhiteSpace(version))
            return _active.TryGetValue(name, out var active) ? active : _active.GetOrAdd(name, _ => Newest(name));

        // Pinned requests use the last read of the models root; a version published since then is found after the next refresh.
        var versions = List().Where(e => e.Name == name).ToList();
        if (versions.Count == 0)
            throw new ModelNotFoundException($"No model named '{name}' is available.");
        var found = versions.FirstOrDefault(e => e.Version == version)
            ?? throw new ModelNotFoundException($"Model '{name}' has no version '{version}' (available: {string.Join(", ", versions.Select(v => v.Version))}).");
        return found with { Pinned = true };
    }

    /// <summary>The version unpinned requests for a model get now, or null before its first use.</summary>
    /// <summary>A version's package (manifest and labels) as the catalog read it; no disk access.</summary>
    /// <exception cref="ModelPackageException">The package could not be read when the catalog last looked.</exception>
    /// <exception cref="ModelNotFoundException">The catalog holds no such version.</exception>
    public ModelPackage Package(ModelEntry entry)
    {
        ArgumentNullException.ThrowIfNull(entry);
        var known = Snapshot.Find(entry.Name, entry.Version)
            ?? throw new ModelNotFoundException($"Model '{entry.Name}' has no version '{entry.Version}'.");
        return known.Package ?? throw known.Problem!;
    }

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

    private string Draw(IDictionary<string, int> split)
    {
        int total = split.Values.Sum(w => Math.Max(0, w));
        int pick = _random.Next(Math.Max(1, total));
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

/// <summary>One version in the catalog: where it is, and its package as read (manifest and labels), or why it could not be read.</summary>
public sealed record CatalogVersion(ModelEntry Entry, ModelPackage? Package, ModelPackageException? Problem, DateTime ManifestWritten);

/// <summary>The models root as the catalog last read it: every version, newest first within each model.</summary>
public sealed class CatalogSnapshot(IReadOnlyList<CatalogVersion> versions)
{
    public IReadOnlyList<CatalogVersion> Versions { get; } = versions;

    public IReadOnlyList<ModelEntry> Entries { get; } = versions.Select(v => v.Entry).ToList();

    /// <summary>The models (names) that have at least one version.</summary>
    public IReadOnlyList<string> Names { get; } = versions.Select(v => v.Entry.Name).Distinct().Order(StringComparer.Ordinal).ToList();

    public CatalogVersion? Find(string name, string version) => Versions.FirstOrDefault(v => v.Entry.Name == name && v.Entry.Version == version);
}

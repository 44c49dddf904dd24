using FunctionApp.Imaging;
using FunctionApp.Inference;
using FunctionApp.Models;

namespace FunctionApp.Api;

/// <summary>What the API says about one model version: manifest facts and cold-start facts.</summary>
public sealed record ModelVersionInfo(
    string Name,
    string Version,
    bool IsDefault,
    bool IsNewest,
    string? Description,
    ModelInputInfo? Input,
    ModelOutputInfo? Output,
    int? Classes,
    bool? HasHead,
    ColdStartInfo ColdStart,
    TrafficSnapshot Traffic,
    string? PackageError = null,
    string? Rejected = null);

public sealed record ModelInputInfo(string Tensor, IReadOnlyList<long> Shape, TensorLayout Layout, ChannelOrder ChannelOrder, string PixelScale, ResizeMode Resize, IReadOnlyList<float> Mean, IReadOnlyList<float> Std);

public sealed record ModelOutputInfo(string Tensor, IReadOnlyList<long> Shape, ScoreKind Scores);

public sealed record ColdStartInfo(ModelLoadState State, int LoadAttempts, double? LoadMs, double? FirstPredictionMs, DateTimeOffset? LoadedAt, string? LastError);

public sealed record ModelListing(string? DefaultModel, IReadOnlyList<ModelVersionInfo> Models);

public sealed record ModelVersions(string Name, IReadOnlyList<ModelVersionInfo> Versions);

/// <summary>Describes catalog entries from their manifests (cheap: no model is loaded) and their pools' cold-start facts.</summary>
public sealed class ModelDescriptions(ModelCatalog catalog, EnginePoolRegistry pools)
{
    public ModelListing List()
    {
        var entries = catalog.List();
        return new ModelListing(catalog.DefaultModel, entries.Select(e => Describe(e, entries)).ToList());
    }

    /// <exception cref="ModelNotFoundException">No model by that name.</exception>
    public ModelVersions Get(string name)
    {
        var entries = catalog.List();
        var versions = entries.Where(e => e.Name == name).Select(e => Describe(e, entries)).ToList();
        if (versions.Count == 0)
            throw new ModelNotFoundException($"No model named '{name}' is available.");
        return new ModelVersions(name, versions);
    }

    public ModelVersionInfo Describe(ModelEntry entry, IReadOnlyList<ModelEntry>? all = null)
    {
        ArgumentNullException.ThrowIfNull(entry);
        var snapshot = catalog.Snapshot;
        all ??= snapshot.Entries;
        bool isNewest = all.FirstOrDefault(e => e.Name == entry.Name)?.Version == entry.Version;
        bool isActive = (catalog.Active(entry.Name)?.Version ?? all.FirstOrDefault(e => e.Name == entry.Name)?.Version) == entry.Version;

        // Only a pool that exists has facts to show: describing a version never creates one.
        var pool = pools.Find(entry);
        var facts = pool?.ColdStart ?? new ColdStartFacts(ModelLoadState.NotLoaded, 0, null, null, null, null);
        var traffic = pool?.Traffic.Snapshot() ?? new TrafficSnapshot(0, 0, null, null, null);
        var coldStart = new ColdStartInfo(facts.State, facts.LoadAttempts, facts.LoadTime?.TotalMilliseconds, facts.FirstPredictionTime?.TotalMilliseconds, facts.LoadedAt, facts.LastError is { } error ? PublicText.Scrub(error) : null);
        var rejected = catalog.Rejection(entry.Name, entry.Version) is { } reason ? PublicText.Scrub(reason) : null;
        bool isDefault = entry.Name == catalog.DefaultModel && isActive;
        var known = snapshot.Find(entry.Name, entry.Version);
        if (known?.Package is not { } package)
            return new ModelVersionInfo(entry.Name, entry.Version, isDefault, isNewest, null, null, null, null, null, coldStart, traffic, PublicText.Scrub(known?.Problem?.Message ?? "The version is not in the catalog."), rejected);

        var m = package.Manifest;
        var p = m.Preprocessing;
        var input = new ModelInputInfo(m.InputTensor, InferencePipeline.InputDims(p).Select(d => (long)d).ToArray(), p.Layout, p.ChannelOrder, p.PixelScale == PixelScale.Unit ? "0-1" : "0-255", p.Resize, p.Mean, p.Std);
        var output = new ModelOutputInfo(m.OutputTensor, m.OutputShape, m.Scores);
        return new ModelVersionInfo(entry.Name, entry.Version, isDefault, isNewest, m.Description, input, output, package.Labels.Count, m.Head is not null, coldStart, traffic, Rejected: rejected);
    }
}

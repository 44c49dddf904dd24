namespace FunctionApp.Inference;

/// <summary>
/// A model version that can be served: where its package lives. <paramref name="Pinned"/> says the caller asked
/// for this exact version; an unpinned entry follows its model to a newer version when the old one is retired.
/// </summary>
public sealed record ModelEntry(string Name, string Version, string Directory, bool Pinned = false);

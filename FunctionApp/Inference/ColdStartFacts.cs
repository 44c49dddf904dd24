namespace FunctionApp.Inference;

public enum ModelLoadState
{
    NotLoaded,
    Loading,
    Loaded,
    Failed,
}

/// <summary>What one model version's cold start cost, and where its loading stands.</summary>
public sealed record ColdStartFacts(
    ModelLoadState State,
    int LoadAttempts,
    TimeSpan? LoadTime,
    TimeSpan? FirstPredictionTime,
    DateTimeOffset? LoadedAt,
    string? LastError);

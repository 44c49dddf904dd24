namespace FunctionApp.Capacity;

/// <summary>The advisor's check of itself: its predicted p95 against a run measured with the same settings.</summary>
/// <param name="ErrorPercent">(predicted - measured) / measured, in percent; positive when the model is pessimistic.</param>
public sealed record Verification(InstanceSize Size, int Concurrency, int Engines, int Cores, double PredictedP95Ms, double MeasuredP95Ms, double ErrorPercent, int Requests, bool MeetsTargetMeasured);

/// <summary>A size that could not be checked by a measured run on this machine, and why.</summary>
public sealed record Unverified(InstanceSize Size, string Reason);

/// <summary>Cost per million images (on demand) of one size for one p95 target; null where no setting meets it.</summary>
public sealed record CostAtTarget(double TargetP95Ms, int MemoryMb, double? OnDemandPerMillion, int? Concurrency);

/// <summary>Everything the advisor found: what it measured, its model, its advice and its check of that advice.</summary>
public sealed record AdvisorReport(
    DateTimeOffset CreatedAt,
    string Command,
    bool Quick,
    double TargetP95Ms,
    CapacityMeasurements Measurements,
    double ModelAloneMs,
    double ModelServiceMs,
    double ModelTailFactor,
    IReadOnlyDictionary<int, double> ModelEfficiency,
    double ModelMemoryBaseMb,
    double ModelMemoryPerEngineMb,
    IReadOnlyList<Recommendation> Recommendations,
    IReadOnlyList<Verification> Verifications,
    IReadOnlyList<Unverified> NotVerified,
    IReadOnlyList<CostAtTarget> CostCurve,
    FlexPlan Plan,
    double ElapsedSeconds);

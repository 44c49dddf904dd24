namespace FunctionApp.Capacity;

/// <summary>Per-image time of each stage, measured one image at a time on one core with one inference thread.</summary>
/// <param name="CpuMsPerImage">The process's CPU time over the run divided by the images (all threads, GC included).</param>
public sealed record StageCost(int Images, double DecodeMs, double PreprocessMs, double InferenceMs, double CpuMsPerImage)
{
    public double TotalMs => DecodeMs + PreprocessMs + InferenceMs;
}

/// <summary>The process's memory with a pool of <paramref name="Engines"/> engines loaded and used at once.</summary>
public sealed record MemoryPoint(int Engines, double WorkingSetMb, double PeakWorkingSetMb);

/// <summary>Latencies of single-image requests kept <paramref name="Concurrency"/> at a time, on <paramref name="Cores"/> cores.</summary>
public sealed record LatencyPoint(int Cores, int Concurrency, int Engines, int Requests, double MeanMs, double P50Ms, double P95Ms, double P99Ms, double ImagesPerSecond);

/// <summary>From nothing loaded to the first answer: the model's load and its first prediction.</summary>
public sealed record ColdStart(double LoadMs, double FirstPredictionMs, double FirstRequestMs);

/// <summary>Everything the advisor measured on this machine.</summary>
public sealed record CapacityMeasurements(
    string Model,
    string Version,
    int MachineCores,
    bool CoresLimited,
    string ImagesUsed,
    ColdStart ColdStart,
    StageCost Stages,
    IReadOnlyList<MemoryPoint> Memory,
    IReadOnlyList<LatencyPoint> Latency);

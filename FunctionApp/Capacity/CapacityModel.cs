namespace FunctionApp.Capacity;

/// <summary>What the model predicts for one instance size at one concurrency.</summary>
public sealed record Prediction(int Concurrency, int Engines, double MeanMs, double P95Ms, double ImagesPerSecond, double MemoryMb, bool FitsInMemory);

/// <summary>The advice for one instance size.</summary>
/// <param name="Concurrency">Per-instance HTTP concurrency, or null when no setting meets the target.</param>
public sealed record Recommendation(
    InstanceSize Size,
    double TargetP95Ms,
    int? Concurrency,
    int? Engines,
    Prediction? Predicted,
    Prediction AtOne,
    bool SlicingNeeded,
    CostEstimate? Cost,
    string Summary)
{
    public bool MeetsTarget => Concurrency is not null;
}

/// <summary>
/// A queueing model of one instance, calibrated on this machine's measurements. A request alone takes <c>L</c> ms (the
/// one-core, one-at-a-time mean); a saturated core serves an image every <c>D</c> ms (1,000 over the best one-core
/// throughput); p95 is <c>t</c> times the mean (the median ratio over every measured run). An instance with a CPU
/// share of <c>v</c> cores, running <c>c</c> requests at once on <c>min(c, ceil(v))</c> engines, answers on average in
/// <c>R(c) = max(L / min(v, 1), c x D / (v x e))</c>, where <c>e</c> is the parallel efficiency measured with that many
/// cores; p95 is <c>t x R(c)</c> and throughput <c>c / R(c)</c>. Memory with <c>n</c> engines is the straight line
/// through the measured points.
/// </summary>
public sealed class CapacityModel
{
    /// <summary>The highest per-instance concurrency the advisor considers.</summary>
    public const int MaxConcurrency = 16;

    private readonly double _aloneMs;
    private readonly double _serviceMs;
    private readonly double _tail;
    private readonly SortedDictionary<int, double> _efficiency = [];
    private readonly double _memoryBase;
    private readonly double _memoryPerEngine;

    public CapacityModel(CapacityMeasurements measurements)
    {
        ArgumentNullException.ThrowIfNull(measurements);
        var oneCore = measurements.Latency.Where(p => p.Cores == 1 && p.ImagesPerSecond > 0).ToList();
        var single = oneCore.Where(p => p.Concurrency == 1).OrderByDescending(p => p.Requests).FirstOrDefault()
            ?? throw new ArgumentException("The measurements have no one-core, one-at-a-time latency run to calibrate on.");
        _aloneMs = single.MeanMs;
        double oneCoreBest = oneCore.Max(p => p.ImagesPerSecond);
        _serviceMs = 1000.0 / oneCoreBest;
        var ratios = measurements.Latency.Where(p => p.MeanMs > 0).Select(p => p.P95Ms / p.MeanMs).Order().ToList();
        _tail = Math.Max(1.0, ratios[ratios.Count / 2]);
        foreach (var cores in measurements.Latency.Select(p => p.Cores).Distinct())
        {
            double best = measurements.Latency.Where(p => p.Cores == cores).Max(p => p.ImagesPerSecond);
            _efficiency[cores] = Math.Clamp(best / (cores * oneCoreBest), 0.05, 1.0);
        }

        (_memoryBase, _memoryPerEngine) = FitLine(measurements.Memory.Select(m => ((double)m.Engines, m.WorkingSetMb)).ToList());
    }

    /// <summary>Mean time of one request alone on one core, in ms (the model's L).</summary>
    public double AloneMs => _aloneMs;

    /// <summary>One core's time per image when saturated, in ms (the model's D).</summary>
    public double ServiceMs => _serviceMs;

    /// <summary>p95 over mean, the median over the measured runs (the model's t).</summary>
    public double TailFactor => _tail;

    public double MemoryBaseMb => _memoryBase;

    public double MemoryPerEngineMb => _memoryPerEngine;

    /// <summary>Parallel efficiency with <paramref name="cores"/> cores: measured, or that of the nearest measured core count.</summary>
    public double Efficiency(int cores)
    {
        if (_efficiency.Count == 0)
            return 1.0;
        if (_efficiency.TryGetValue(cores, out var e))
            return e;
        var nearest = _efficiency.Keys.OrderBy(k => Math.Abs(k - cores)).ThenByDescending(k => k).First();
        return _efficiency[nearest];
    }

    public double MemoryMb(int engines) => _memoryBase + _memoryPerEngine * engines;

    public Prediction Predict(InstanceSize size, int concurrency)
    {
        ArgumentNullException.ThrowIfNull(size);
        ArgumentOutOfRangeException.ThrowIfLessThan(concurrency, 1);
        int engines = Math.Min(concurrency, size.Cores);
        double share = size.CpuCores * Efficiency(size.Cores);
        double alone = _aloneMs / Math.Min(size.CpuCores, 1.0);
        double mean = Math.Max(alone, concurrency * _serviceMs / share);
        double memory = MemoryMb(engines);
        return new Prediction(concurrency, engines, mean, _tail * mean, concurrency * 1000.0 / mean, memory, memory <= size.MemoryMb);
    }

    /// <summary>
    /// The highest concurrency (up to <see cref="MaxConcurrency"/>) whose predicted p95 is within the target and whose
    /// engines fit in the instance's memory: the per-instance limit past which the platform should add instances. Slicing is
    /// needed when the process fits but not with one engine of the whole model.
    /// </summary>
    public Recommendation Recommend(InstanceSize size, double targetP95Ms, FlexPlan plan)
    {
        ArgumentNullException.ThrowIfNull(size);
        ArgumentNullException.ThrowIfNull(plan);
        var atOne = Predict(size, 1);
        bool processFits = MemoryMb(0) <= size.MemoryMb;
        bool slicing = !atOne.FitsInMemory && processFits;
        Prediction? best = null;
        for (int c = 1; c <= MaxConcurrency; c++)
        {
            var p = Predict(size, c);
            if (p.FitsInMemory && p.P95Ms <= targetP95Ms)
                best = p;
        }

        if (best is null)
        {
            string why = !processFits
                ? $"the process alone needs about {MemoryMb(0):N0} MB before any engine, more than the {size.MemoryMb} MB instance has: slicing cannot make it fit, pick a larger size"
                : slicing
                ? $"one engine needs about {atOne.MemoryMb:N0} MB, more than the {size.MemoryMb} MB instance has: slice the model (the slice command, one slice at a time) or pick a larger size"
                : $"no setting meets the target: even one request at a time has a predicted p95 of {atOne.P95Ms:N0} ms";
            return new Recommendation(size, targetP95Ms, null, null, null, atOne, slicing, null, why);
        }

        var cost = CostModel.Estimate(size, best.ImagesPerSecond, plan);
        string summary = $"HTTP concurrency {best.Concurrency} per instance, {best.Engines} engine(s): predicted p95 {best.P95Ms:N0} ms, {best.ImagesPerSecond:0.#} images/s per instance";
        return new Recommendation(size, targetP95Ms, best.Concurrency, best.Engines, best, atOne, slicing, cost, summary);
    }

    /// <summary>Least-squares line through (x, y); a single point gives a flat line.</summary>
    public static (double Intercept, double Slope) FitLine(IReadOnlyList<(double X, double Y)> points)
    {
        if (points.Count == 0)
            return (0, 0);
        double mx = points.Average(p => p.X), my = points.Average(p => p.Y);
        double sxx = points.Sum(p => (p.X - mx) * (p.X - mx));
        if (sxx <= 0)
            return (my, 0);
        double slope = Math.Max(0, points.Sum(p => (p.X - mx) * (p.Y - my)) / sxx);
        return (my - slope * mx, slope);
    }
}

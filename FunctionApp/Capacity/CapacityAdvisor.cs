using System.Diagnostics;

namespace FunctionApp.Capacity;

/// <summary>
/// Measures, models, recommends and checks: the whole of the capacity and cost advice for one model and one p95 target.
/// </summary>
public sealed class CapacityAdvisor(CapacityProbe probe, FlexPlan plan)
{
    /// <summary>How many p95 targets the cost curve is drawn through.</summary>
    public const int CostCurvePoints = 24;

    public async Task<AdvisorReport> AdviseAsync(double targetP95Ms, bool quick, string command, string imagesUsed, IProgress<(int Done, int Total)>? progress, CancellationToken cancellationToken)
    {
        long start = Stopwatch.GetTimestamp();
        var probePlan = quick ? ProbePlan.Quick : ProbePlan.Full;
        int available = CoreLimit.AvailableCores;
        var cores = plan.InstanceSizes.Select(s => Math.Min(s.Cores, available)).Append(1).Distinct().Order().ToList();
        var checkable = plan.InstanceSizes.Where(s => Checkable(s, available) is null).ToList();

        // The measurement's steps, then one more for each size the advisor can check by a measured run.
        var inner = progress is null ? null : new Progress<(int Done, int Total)>(p => progress.Report((p.Done, p.Total + checkable.Count)));
        var measurements = await probe.MeasureAsync(probePlan, cores, imagesUsed, inner, cancellationToken);
        int measuredSteps = 2 + probePlan.EngineCounts.Count + cores.Count * probePlan.Concurrency.Count;

        var model = new CapacityModel(measurements);
        var recommendations = plan.InstanceSizes.Select(s => model.Recommend(s, targetP95Ms, plan)).ToList();

        var verifications = new List<Verification>();
        var notVerified = new List<Unverified>();
        int step = measuredSteps;
        foreach (var rec in recommendations)
        {
            var reason = rec.Concurrency is null ? "there is no recommended setting to check" : Checkable(rec.Size, available);
            if (reason is not null)
            {
                notVerified.Add(new Unverified(rec.Size, reason));
                continue;
            }

            int c = rec.Concurrency!.Value;
            var measured = await probe.LatencyAsync(rec.Size.Cores, c, rec.Engines!.Value, probePlan.Requests(c) * 2, cancellationToken);
            double predicted = rec.Predicted!.P95Ms;
            verifications.Add(new Verification(rec.Size, c, rec.Engines.Value, rec.Size.Cores, predicted, measured.P95Ms,
                ErrorPercent(predicted, measured.P95Ms), measured.Requests, measured.P95Ms <= targetP95Ms));
            progress?.Report((++step, measuredSteps + checkable.Count));
        }

        var curve = CostCurve(model, targetP95Ms);
        return new AdvisorReport(DateTimeOffset.UtcNow, command, quick, targetP95Ms, measurements, model.AloneMs, model.ServiceMs, model.TailFactor,
            cores.ToDictionary(k => k, model.Efficiency), model.MemoryBaseMb, model.MemoryPerEngineMb, recommendations, verifications, notVerified, curve, plan,
            Stopwatch.GetElapsedTime(start).TotalSeconds);
    }

    /// <summary>(predicted - measured) / measured, in percent.</summary>
    public static double ErrorPercent(double predicted, double measured) => measured > 0 ? 100.0 * (predicted - measured) / measured : double.NaN;

    /// <summary>Why a size cannot be checked by a run on this machine, or null when it can.</summary>
    public static string? Checkable(InstanceSize size, int availableCores)
    {
        ArgumentNullException.ThrowIfNull(size);
        if (!CoreLimit.Supported)
            return "this platform cannot confine the process to a number of cores";
        if (Math.Abs(size.CpuCores - Math.Round(size.CpuCores)) > 1e-9)
            return $"a share of {size.CpuCores} of a core cannot be reproduced by confining the process to whole cores: its figures are the model's, scaled from the one-core measurements";
        if (size.Cores > availableCores)
            return $"it needs {size.Cores} cores and this machine has {availableCores}";
        return null;
    }

    /// <summary>On-demand cost per million images against the p95 target, for every size, over a range around the model's fastest answer.</summary>
    private List<CostAtTarget> CostCurve(CapacityModel model, double target)
    {
        double fastest = plan.InstanceSizes.Min(s => model.Predict(s, 1).P95Ms);
        double low = Math.Min(fastest * 0.8, target * 0.5);
        double high = Math.Max(fastest * 30, target * 2);
        var points = new List<CostAtTarget>();
        for (int i = 0; i < CostCurvePoints; i++)
        {
            double t = low * Math.Pow(high / low, i / (double)(CostCurvePoints - 1));
            foreach (var size in plan.InstanceSizes)
            {
                var rec = model.Recommend(size, t, plan);
                points.Add(new CostAtTarget(t, size.MemoryMb, rec.Cost?.OnDemandPerMillion, rec.Concurrency));
            }
        }

        return points;
    }
}

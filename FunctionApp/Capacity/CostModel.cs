using System.Globalization;

namespace FunctionApp.Capacity;

/// <summary>What a million images cost on one instance size, term by term, with the formula and its numbers.</summary>
public sealed record CostEstimate(
    double GbSecondsPerMillion,
    double OnDemandPerMillion,
    double AlwaysReadyShare,
    double BaselinePerMonth,
    double WithAlwaysReadyPerMillion,
    string OnDemandFormula,
    string AlwaysReadyFormula);

/// <summary>
/// Cost per million images on the Flex Consumption plan. Billing counts the instance's memory for the time it is
/// executing; at a steady load an instance serving <c>X</c> images a second is busy <c>1/X</c> seconds per image,
/// however many run at once. Free grants are left out: they are a fixed monthly discount, not a price per image.
/// </summary>
public static class CostModel
{
    /// <param name="size">The instance size (its memory is what is billed).</param>
    /// <param name="imagesPerSecond">One instance's throughput at the chosen concurrency.</param>
    /// <param name="plan">Prices and the monthly volume the always-ready baseline is spread over.</param>
    public static CostEstimate Estimate(InstanceSize size, double imagesPerSecond, FlexPlan plan)
    {
        ArgumentNullException.ThrowIfNull(size);
        ArgumentNullException.ThrowIfNull(plan);
        if (!(imagesPerSecond > 0) || double.IsInfinity(imagesPerSecond))
            throw new ArgumentOutOfRangeException(nameof(imagesPerSecond), "Throughput must be a positive number of images a second.");

        var p = plan.Prices;
        var a = plan.Assumptions;
        double gbs = 1e6 * size.MemoryGb / imagesPerSecond;
        double onDemand = gbs * p.OnDemandPerGbSecond + p.OnDemandPerMillionExecutions;

        // Always ready instances take the images they have time for at the lower execution rate; the rest scale out on demand.
        double capacity = a.AlwaysReadyInstances * imagesPerSecond * a.SecondsPerMonth;
        double share = a.AlwaysReadyInstances == 0 ? 0 : Math.Min(1.0, capacity / a.MonthlyImages);
        double alwaysReadyExecution = gbs * p.AlwaysReadyExecutionPerGbSecond + p.AlwaysReadyPerMillionExecutions;
        double baseline = a.AlwaysReadyInstances * size.MemoryGb * a.SecondsPerMonth * p.AlwaysReadyBaselinePerGbSecond;
        double withAlwaysReady = share * alwaysReadyExecution + (1 - share) * onDemand + baseline / (a.MonthlyImages / 1e6);

        var c = plan.Currency;
        string onDemandFormula = Invariant(
            $"1,000,000 x {size.MemoryGb:0.###} GB / {imagesPerSecond:0.###} images/s = {gbs:N0} GB-s; {gbs:N0} GB-s x {p.OnDemandPerGbSecond:0.#########} {c}/GB-s + {p.OnDemandPerMillionExecutions:0.#########} {c} per million executions = {onDemand:0.00} {c}");
        string alwaysReadyFormula = Invariant(
            $"baseline {a.AlwaysReadyInstances} x {size.MemoryGb:0.###} GB x {a.SecondsPerMonth:N0} s x {p.AlwaysReadyBaselinePerGbSecond:0.#########} {c}/GB-s = {baseline:0.00} {c}/month; ")
            + Invariant($"{share:P0} of {a.MonthlyImages:N0} images/month on always ready at {gbs:N0} GB-s x {p.AlwaysReadyExecutionPerGbSecond:0.#########} + {p.AlwaysReadyPerMillionExecutions:0.#########} = {alwaysReadyExecution:0.00}, the rest on demand at {onDemand:0.00}; ")
            + Invariant($"{share:0.###} x {alwaysReadyExecution:0.00} + {1 - share:0.###} x {onDemand:0.00} + {baseline:0.00} / {a.MonthlyImages / 1e6:0.###} = {withAlwaysReady:0.00} {c}");
        return new CostEstimate(gbs, onDemand, share, baseline, withAlwaysReady, onDemandFormula, alwaysReadyFormula);
    }

    private static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);
}

using System.Text.Json;
using System.Text.Json.Serialization;

namespace FunctionApp.Capacity;

/// <summary>One Flex Consumption instance size: its memory and the CPU share the platform gives it.</summary>
public sealed record InstanceSize(int MemoryMb, double CpuCores)
{
    /// <summary>The memory billed per second, in GB (MB / 1,024, as the billing meters count).</summary>
    [JsonIgnore]
    public double MemoryGb => MemoryMb / 1024.0;

    /// <summary>Threads and engines the size is modelled with: its cores, rounded up, at least one.</summary>
    [JsonIgnore]
    public int Cores => Math.Max(1, (int)Math.Ceiling(CpuCores - 1e-9));

    public override string ToString() => $"{MemoryMb} MB";
}

/// <summary>Flex Consumption list prices, in the table's currency.</summary>
public sealed record FlexPrices(
    double OnDemandPerGbSecond,
    double OnDemandPerMillionExecutions,
    double AlwaysReadyBaselinePerGbSecond,
    double AlwaysReadyExecutionPerGbSecond,
    double AlwaysReadyPerMillionExecutions,
    double FreeGrantGbSecondsPerMonth,
    double FreeGrantExecutionsPerMonth);

/// <summary>Where a figure was read, and what it said.</summary>
public sealed record PriceSource(string Url, string Read);

/// <summary>The volume the always-ready baseline is spread over.</summary>
public sealed record CostAssumptions(double MonthlyImages, int AlwaysReadyInstances, double SecondsPerMonth);

/// <summary>
/// The plan's dated price table and instance sizes, read from a JSON file shipped with the app
/// (<c>Capacity/flex-consumption.json</c>) or given on the command line.
/// </summary>
public sealed record FlexPlan(
    string Plan,
    string Currency,
    string Region,
    string PricesAsOf,
    IReadOnlyList<PriceSource> PriceSources,
    FlexPrices Prices,
    PriceSource InstanceSizesSource,
    IReadOnlyList<InstanceSize> InstanceSizes,
    CostAssumptions Assumptions)
{
    public const string DefaultFileName = "flex-consumption.json";

    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web) { ReadCommentHandling = JsonCommentHandling.Skip };

    /// <summary>The table shipped next to the app.</summary>
    public static string DefaultPath => Path.Combine(AppContext.BaseDirectory, "Capacity", DefaultFileName);

    /// <summary>Reads and checks a price table.</summary>
    /// <exception cref="ArgumentException">The file is not a usable price table (the message says why).</exception>
    /// <exception cref="FileNotFoundException">No such file.</exception>
    public static FlexPlan Load(string path)
    {
        if (!File.Exists(path))
            throw new FileNotFoundException($"The price table {path} does not exist.", path);
        FlexPlan? plan;
        try
        {
            plan = JsonSerializer.Deserialize<FlexPlan>(File.ReadAllText(path), Json);
        }
        catch (JsonException ex)
        {
            throw new ArgumentException($"The price table {path} is not valid JSON: {ex.Message}");
        }

        var problems = plan is null ? ["it is empty"] : Problems(plan).ToList();
        if (problems.Count > 0)
            throw new ArgumentException($"The price table {path} cannot be used: {string.Join("; ", problems)}.");
        return plan!;
    }

    private static IEnumerable<string> Problems(FlexPlan plan)
    {
        if (string.IsNullOrWhiteSpace(plan.PricesAsOf))
            yield return "pricesAsOf (the date of the prices) is missing";
        if (plan.PriceSources is not { Count: > 0 })
            yield return "priceSources is missing";
        if (plan.Prices is null)
        {
            yield return "prices is missing";
        }
        else if (plan.Prices.OnDemandPerGbSecond <= 0 || plan.Prices.OnDemandPerMillionExecutions < 0 || plan.Prices.AlwaysReadyBaselinePerGbSecond < 0
            || plan.Prices.AlwaysReadyExecutionPerGbSecond < 0 || plan.Prices.AlwaysReadyPerMillionExecutions < 0)
        {
            yield return "prices must not be negative, and the on-demand GB-s price must be above zero";
        }

        if (plan.InstanceSizes is not { Count: > 0 } || plan.InstanceSizes.Any(s => s.MemoryMb <= 0 || s.CpuCores <= 0))
            yield return "instanceSizes must list sizes with memoryMb and cpuCores above zero";
        if (plan.Assumptions is null || plan.Assumptions.MonthlyImages <= 0 || plan.Assumptions.AlwaysReadyInstances < 0 || plan.Assumptions.SecondsPerMonth <= 0)
            yield return "assumptions needs monthlyImages and secondsPerMonth above zero and alwaysReadyInstances of zero or more";
    }
}

using System.Diagnostics;
using FunctionApp.Hosting;
using FunctionApp.Inference;
using FunctionApp.Models;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace FunctionApp.Benchmarks;

/// <summary>
/// <c>pool-memory ENGINES</c>: loads the bundled model with a pool of ENGINES prediction engines, puts every
/// engine to work at once (so all of them exist), and prints the process's peak working set. Run it once per
/// pool size, in separate processes (see pool-memory.sh), to compare what extra engines cost.
/// </summary>
internal static class PoolMemory
{
    public static async Task<int> RunAsync(int engines)
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["EnginePool:MaxEngines"] = engines.ToString(System.Globalization.CultureInfo.InvariantCulture),
        }).Build();
        var services = new ServiceCollection().AddSingleton<IConfiguration>(configuration).AddLogging();
        services.AddServing();
        await using var provider = services.BuildServiceProvider();
        var entry = provider.GetRequiredService<ModelCatalog>().Resolve();
        var pool = provider.GetRequiredService<EnginePoolRegistry>().GetPool(entry);
        var pipeline = await pool.GetPipelineAsync();
        var tensor = new float[pipeline.Package.Manifest.Preprocessing.TensorLength];

        // Enough concurrent callers, on enough threads, that the pool grows to its limit.
        ThreadPool.SetMinThreads(engines * 2 + 4, engines * 2 + 4);
        for (int round = 0; round < 3; round++)
            await Task.WhenAll(Enumerable.Range(0, engines * 2).Select(_ => Task.Run(async () => await pool.ScoreAsync(tensor))));

        using var process = Process.GetCurrentProcess();
        process.Refresh();
        Console.WriteLine($"engines={pool.EngineCount} peakWorkingSetMiB={process.PeakWorkingSet64 / (1024.0 * 1024):F1} managedMiB={GC.GetTotalMemory(true) / (1024.0 * 1024):F1}");
        return pool.EngineCount == engines ? 0 : 1;
    }
}

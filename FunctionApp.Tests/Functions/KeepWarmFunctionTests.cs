using FunctionApp.Functions;
using FunctionApp.Inference;
using FunctionApp.Models;
using FunctionApp.Tests.Support;
using Microsoft.Azure.Functions.Worker;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;

namespace FunctionApp.Tests.Functions;

public sealed class KeepWarmFunctionTests : IDisposable
{
    private readonly ModelRoot _models = new();

    public void Dispose() => _models.Dispose();

    [Fact]
    public async Task Run_LoadsTheDefaultModelAndRunsATrialPredictionThatIsNotTraffic()
    {
        await using var services = TestServices.Create(_models.Settings());
        var function = new KeepWarmFunction(services.GetRequiredService<Microsoft.Extensions.Diagnostics.HealthChecks.HealthCheckService>(), NullLogger<KeepWarmFunction>.Instance);
        var pool = services.GetRequiredService<EnginePoolRegistry>().GetPool(services.GetRequiredService<ModelCatalog>().Resolve());
        Assert.False(pool.IsLoaded);

        await function.Run(new TimerInfo(), CancellationToken.None);

        Assert.True(pool.IsLoaded);
        Assert.NotNull(pool.ColdStart.FirstPredictionTime);
        Assert.Equal(0, pool.Traffic.Snapshot().Predictions);
    }
}

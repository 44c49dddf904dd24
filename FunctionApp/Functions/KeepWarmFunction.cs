using FunctionApp.Classification;
using Microsoft.Azure.Functions.Worker;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Logging;

namespace FunctionApp.Functions;

/// <summary>
/// Keep-warm: on the schedule in the <c>KeepWarmSchedule</c> app setting (NCRONTAB, for example
/// <c>0 */5 * * * *</c>), makes sure the default model is loaded and predicts, so an idle instance stays ready.
/// Off unless turned on: <c>AzureWebJobs.KeepWarm.Disabled</c> is <c>true</c> in the sample settings and the infra.
/// </summary>
public sealed partial class KeepWarmFunction(HealthCheckService health, ILogger<KeepWarmFunction> logger)
{
    [Function("KeepWarm")]
    public async Task Run([TimerTrigger("%KeepWarmSchedule%")] TimerInfo timer, CancellationToken cancellationToken)
    {
        var state = await ModelReadinessCheck.ReadAsync(health, cancellationToken);
        LogKeepWarm(state.Model, state.Version, state.Ready, state.Error);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Keep-warm: model {Model} version {Version} ready {Ready} {Error}")]
    private partial void LogKeepWarm(string? model, string? version, bool ready, string? error);
}

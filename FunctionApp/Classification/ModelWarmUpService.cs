using FunctionApp.Models;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace FunctionApp.Classification;

/// <summary>
/// With <c>Models:WarmUp=Eager</c>, loads the default model and runs one prediction in the background when
/// the host starts, through the readiness check the health routes use. Start-up itself does not wait.
/// </summary>
public sealed partial class ModelWarmUpService(ModelReadinessCheck readiness, IOptions<ModelsOptions> options, ILogger<ModelWarmUpService> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (options.Value.WarmUp != ModelWarmUp.Eager)
            return;

        // Let the host finish starting before the CPU-heavy load begins.
        await Task.Yield();
        var state = await readiness.CheckAsync(stoppingToken);
        if (state.Ready)
            LogWarm(state.Model, state.Version, state.ColdStart?.LoadTime?.TotalMilliseconds ?? 0);
        else
            LogNotWarm(state.Model, state.Error);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Warmed up model {Model} version {Version} (load {LoadMs:F0} ms)")]
    private partial void LogWarm(string? model, string? version, double loadMs);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not warm up model {Model}: {Reason}; it will load on first use")]
    private partial void LogNotWarm(string? model, string? reason);
}

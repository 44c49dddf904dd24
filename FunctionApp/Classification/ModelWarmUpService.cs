using FunctionApp.Inference;
using FunctionApp.Models;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace FunctionApp.Classification;

/// <summary>
/// With <c>Models:WarmUp=Eager</c>, loads the default model and runs one prediction in the background when
/// the host starts, through the readiness check the health routes use. Start-up itself does not wait: the load begins
/// before any hosted service starts (the web server, the Functions worker's channel to the host), so that it runs on
/// one core while the rest of start-up runs on another.
/// </summary>
public sealed partial class ModelWarmUpService(ModelReadinessCheck readiness, IOptions<ModelsOptions> options, ILogger<ModelWarmUpService> logger) : IHostedLifecycleService, IDisposable
{
    private readonly CancellationTokenSource _stopping = new();
    private Task _warmUp = Task.CompletedTask;

    public Task StartingAsync(CancellationToken cancellationToken)
    {
        if (options.Value.WarmUp == ModelWarmUp.Eager)
            _warmUp = Task.Run(() => WarmUpAsync(_stopping.Token), CancellationToken.None);
        return Task.CompletedTask;
    }

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StartedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StoppingAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        await _stopping.CancelAsync();
        await _warmUp.WaitAsync(cancellationToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
    }

    public Task StoppedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public void Dispose() => _stopping.Dispose();

    private async Task WarmUpAsync(CancellationToken stoppingToken)
    {
        try
        {
            var state = await readiness.CheckAsync(stoppingToken);
            if (state.Ready)
                LogWarm(state.Model, state.Version, state.ColdStart?.LoadTime?.TotalMilliseconds ?? 0);
            else
                LogNotWarm(state.Model, state.Error);
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Stopped before the model was warm.
        }
        catch (Exception ex)
        {
            LogFailed(ex);
        }
        finally
        {
            // A pipeline preloaded for a model the warm-up did not use (its settings changed meanwhile) is let go.
            _ = PipelinePreload.DiscardUnclaimed();
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Warmed up model {Model} version {Version} (load {LoadMs:F0} ms)")]
    private partial void LogWarm(string? model, string? version, double loadMs);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not warm up model {Model}: {Reason}; it will load on first use")]
    private partial void LogNotWarm(string? model, string? reason);

    [LoggerMessage(Level = LogLevel.Error, Message = "Warming up the default model failed; it will load on first use")]
    private partial void LogFailed(Exception exception);
}

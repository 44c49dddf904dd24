using System.Runtime.ExceptionServices;
using System.Text.Json;
using FunctionApp.Batch;
using FunctionApp.Blobs;
using FunctionApp.Chains;
using FunctionApp.Models;
using FunctionApp.Storage;
using FunctionApp.Triggers;
using Microsoft.Azure.WebJobs.Host.Timers;
using Microsoft.Azure.WebJobs;
using Microsoft.Extensions.Azure;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace FunctionApp.Hosting;

/// <summary>
/// Runs <c>serve</c>'s triggers (<see cref="ServeTriggers"/>) on the WebJobs SDK, configured from the same
/// <c>host.json</c> the Functions host reads (its <c>extensions</c> section: queue polling and batch sizes, dequeue
/// counts, the blob poison threshold), so both hosts try, wait and park the same way.
/// <para>
/// The engine runs in a host of its own inside <c>serve</c>, over the app's own processors. When storage stays
/// unreachable past the engine's retries, its listeners give up and the engine would end the process; here that
/// only ends the engine's host, and a new one starts once storage answers again, while HTTP keeps being served.
/// </para>
/// </summary>
public sealed partial class TriggerEngine(IServiceProvider app, IConfiguration configuration, ILoggerFactory loggers, ILogger<TriggerEngine> logger) : BackgroundService
{
    /// <summary>The engine's id: its receipts, locks and internal queue are kept under it. Every <c>serve</c> on one account shares it.</summary>
    public const string HostId = "image-inference-serve";

    private static readonly TimeSpan RestartDelay = TimeSpan.FromSeconds(10);

    /// <summary>Whether <c>serve</c> should run its triggers: a storage connection is configured and <c>Storage:Watch</c> is on.</summary>
    public static bool IsWanted(IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        var options = configuration.GetSection(StorageOptions.SectionName).Get<StorageOptions>() ?? new StorageOptions();
        var connection = configuration.GetSection(options.Connection);
        return options.Watch && (!string.IsNullOrWhiteSpace(connection.Value) || !string.IsNullOrWhiteSpace(connection["blobServiceUri"]));
    }

    /// <summary>Adds the engine to <c>serve</c>, with host.json's extension settings where the WebJobs SDK reads its options.</summary>
    public static void Add(IServiceCollection services, ConfigurationManager configuration, ILoggingBuilder logging)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        ArgumentNullException.ThrowIfNull(logging);
        configuration.AddInMemoryCollection(HostJsonSettings(Path.Combine(AppContext.BaseDirectory, "host.json")));
        services.AddHostedService<TriggerEngine>();

        // The engine narrates every invocation and every storage request at Information: keep its warnings and errors.
        logging.AddFilter("Azure.Core", LogLevel.Error);
        logging.AddFilter("Azure.Storage", LogLevel.Error);
        logging.AddFilter("Microsoft.Azure.WebJobs", LogLevel.Warning);
        // Filters match categories by prefix, so the dots matter: "Function" alone would silence the app's own
        // categories (FunctionApp.*) too.
        logging.AddFilter("Host.", LogLevel.Warning);
        logging.AddFilter("Host.Results", LogLevel.None);
        logging.AddFilter("Function.", LogLevel.Warning);
    }

    /// <summary>The <c>extensions</c> section of host.json as configuration under <c>AzureWebJobs:extensions</c>.</summary>
    public static IEnumerable<KeyValuePair<string, string?>> HostJsonSettings(string hostJsonPath)
    {
        if (!File.Exists(hostJsonPath))
            return [];
        using var document = JsonDocument.Parse(File.ReadAllText(hostJsonPath));
        return document.RootElement.TryGetProperty("extensions", out var extensions) ? [.. Flatten("AzureWebJobs:extensions", extensions)] : [];
    }

    private static IEnumerable<KeyValuePair<string, string?>> Flatten(string prefix, JsonElement element) => element.ValueKind switch
    {
        JsonValueKind.Object => element.EnumerateObject().SelectMany(p => Flatten($"{prefix}:{p.Name}", p.Value)),
        JsonValueKind.Array => element.EnumerateArray().SelectMany((e, i) => Flatten($"{prefix}:{i}", e)),
        _ => [new KeyValuePair<string, string?>(prefix, element.ValueKind == JsonValueKind.String ? element.GetString() : element.GetRawText())],
    };

    /// <summary>The engine's host now, while one runs (for tests that look at its options).</summary>
    public IHost? Current { get; private set; }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            var failed = new TaskCompletionSource<Exception>(TaskCreationOptions.RunContinuationsAsynchronously);
            var engine = Build(failed);
            try
            {
                await engine.StartAsync(stoppingToken);
                Current = engine;
                LogStarted();
                var reason = await failed.Task.WaitAsync(stoppingToken);
                LogFailed(reason.Message, RestartDelay.TotalSeconds);
            }
            catch (Exception ex) when (ex is not OperationCanceledException || !stoppingToken.IsCancellationRequested)
            {
                LogFailed(ex.Message, RestartDelay.TotalSeconds);
            }
            catch (OperationCanceledException)
            {
                // serve is stopping.
            }
            finally
            {
                Current = null;
                await StopQuietlyAsync(engine);
            }

            if (!stoppingToken.IsCancellationRequested)
                await Task.Delay(RestartDelay, stoppingToken).ContinueWith(_ => { }, TaskScheduler.Default);
        }
    }

    private IHost Build(TaskCompletionSource<Exception> failed) =>
        new HostBuilder()
            .ConfigureAppConfiguration(c => c.AddConfiguration(configuration))
            .ConfigureServices(services =>
            {
                services.AddSingleton(loggers);
                services.AddSingleton(typeof(ILogger<>), typeof(Logger<>));
                services.AddSingleton<IHostLifetime, QuietLifetime>();

                // The triggers run the app's own processors: the same singletons the HTTP side uses.
                services.AddSingleton(_ => app.GetRequiredService<ImageBlobProcessor>());
                services.AddSingleton(_ => app.GetRequiredService<BatchJobProcessor>());
                services.AddSingleton(_ => app.GetRequiredService<ModelRefreshService>());
                services.AddSingleton(_ => app.GetRequiredService<SliceChain>());
                services.AddSingleton(_ => app.GetRequiredService<TriggerPoison>());

                // Patient storage retries, like the app's own background work: an outage of a minute or two is ridden out.
                var tolerance = app.GetRequiredService<Microsoft.Extensions.Options.IOptions<StorageOptions>>().Value.OutageTolerance;
                services.AddAzureClients(clients => clients.ConfigureDefaults(options => BlobStorage.Patient(options.Retry, tolerance)));
                services.AddSingleton<ITypeLocator>(new TypeLocator(typeof(ServeTriggers)));
                services.AddSingleton<IWebJobsExceptionHandlerFactory>(new FailureSignal(failed));
            })
            .ConfigureWebJobs(webJobs => webJobs
                .UseHostId(HostId)
                .AddAzureStorageCoreServices()
                .AddAzureStorageBlobs()
                .AddAzureStorageQueues())
            .Build();

    /// <summary>
    /// Stops and disposes an engine, waiting at most a few seconds: the engine's listeners wait on storage while they
    /// stop, so an engine that failed because storage is down may take its time, and the next one need not wait.
    /// </summary>
    private static async Task StopQuietlyAsync(IHost engine)
    {
        var stopping = Task.Run(async () =>
        {
            try
            {
                await engine.StopAsync();
            }
            catch (Exception ex) when (ex is not OutOfMemoryException)
            {
                // A host whose listeners already failed may not stop cleanly; it is disposed either way.
            }
            finally
            {
                engine.Dispose();
            }
        });
        await Task.WhenAny(stopping, Task.Delay(TimeSpan.FromSeconds(10)));
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Blob and queue triggers started")]
    private partial void LogStarted();

    [LoggerMessage(Level = LogLevel.Error, Message = "The blob and queue triggers stopped: {Reason}; HTTP keeps serving, and the triggers start again in {Seconds} s")]
    private partial void LogFailed(string reason, double seconds);

    /// <summary>The engine's host lives inside serve's: it neither listens for Ctrl+C nor announces starting and stopping.</summary>
    private sealed class QuietLifetime : IHostLifetime
    {
        public Task WaitForStartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }

    private sealed class TypeLocator(params Type[] types) : ITypeLocator
    {
        public IReadOnlyList<Type> GetTypes() => types;
    }

    /// <summary>Instead of ending the process on a listener's unhandled error (the engine's default), end only the engine's host.</summary>
    private sealed class FailureSignal(TaskCompletionSource<Exception> failed) : IWebJobsExceptionHandlerFactory, IWebJobsExceptionHandler
    {
        public IWebJobsExceptionHandler Create(IHost jobHost) => this;

        public Task OnTimeoutExceptionAsync(ExceptionDispatchInfo exceptionInfo, TimeSpan timeoutGracePeriod) => OnUnhandledExceptionAsync(exceptionInfo);

        public Task OnUnhandledExceptionAsync(ExceptionDispatchInfo exceptionInfo)
        {
            ArgumentNullException.ThrowIfNull(exceptionInfo);
            failed.TrySetResult(exceptionInfo.SourceException);
            return Task.CompletedTask;
        }
    }
}

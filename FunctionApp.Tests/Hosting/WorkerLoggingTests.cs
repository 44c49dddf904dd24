using System.Collections;
using FunctionApp.Blobs;
using FunctionApp.Hosting;
using FunctionApp.Storage;
using FunctionApp.Tests.Support;
using FunctionsWorkerHost = FunctionApp.Hosting.FunctionsWorkerHost;
using Microsoft.Azure.Functions.Worker;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging.Console;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace FunctionApp.Tests.Hosting;

/// <summary>
/// What the Functions host's console receives from the worker. The host prints a line written during an invocation
/// only when it carries that invocation's id, so the test reads the messages the worker queues for the host (its gRPC
/// channel, internal to the worker SDK, reached by reflection) rather than trusting configuration alone.
/// </summary>
public partial class WorkerLoggingTests
{
    private static readonly string[] HostArguments = ["--host", "127.0.0.1", "--port", "50051", "--workerId", "w1", "--requestId", "r1", "--grpcMaxMessageLength", "2147483647"];

    [Fact]
    public async Task Invocation_AppLogLine_ReachesTheHostWithItsInvocationId()
    {
        using var host = FunctionsWorkerHost.Build(HostArguments);
        var context = new FakeFunctionContext("ProcessImage");
        var logger = host.Services.GetRequiredService<ILoggerFactory>().CreateLogger("FunctionApp.Blobs.ImageBlobProcessor");

        await new WorkerLogging.InvocationMarker().Invoke(context, _ =>
        {
            using (logger.BeginScope(InvocationScope(host.Services, context)))
                LogClassified(logger, "red.png");
            return Task.CompletedTask;
        });

        var line = Assert.Single(HostLogLines(host.Services), l => l.Category == "FunctionApp.Blobs.ImageBlobProcessor");
        Assert.Equal((context.InvocationId, "User", "Classified blob red.png"), (line.InvocationId, line.LogCategory, line.Message));
    }

    [Fact]
    public async Task Console_WithoutExporters_PrintsOnlyLinesOutsideInvocations()
    {
        using var host = FunctionsWorkerHost.Build(HostArguments);
        var filter = ConsoleFilter(host.Services);

        bool outside = filter("FunctionApp.Storage.StorageProvisioner", LogLevel.Information);
        bool inside = false;
        await new WorkerLogging.InvocationMarker().Invoke(new FakeFunctionContext("ProcessImage"), _ =>
        {
            inside = filter("FunctionApp.Storage.StorageProvisioner", LogLevel.Information);
            return Task.CompletedTask;
        });

        Assert.Contains(host.Services.GetServices<ILoggerProvider>(), p => p is ConsoleLoggerProvider);
        Assert.True(outside, "a start-up line outside any invocation goes to the console the host prints");
        Assert.False(inside, "a line inside an invocation reaches the host over gRPC only");
    }

    [Fact]
    public void Console_WithAnExporter_IsNotUsed()
    {
        using var host = FunctionsWorkerHost.Build([.. HostArguments, "--OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:4317"]);

        Assert.DoesNotContain(host.Services.GetServices<ILoggerProvider>(), p => p is ConsoleLoggerProvider);
        Assert.Equal(WorkerLogging.SchemaWithInvocationId, host.Services.GetRequiredService<IOptions<WorkerOptions>>().Value.Capabilities[WorkerLogging.SchemaCapability]);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Classified blob {Name}")]
    private static partial void LogClassified(ILogger logger, string name);

    private static Func<string, LogLevel, bool> ConsoleFilter(IServiceProvider services)
    {
        var rule = Assert.Single(services.GetRequiredService<IOptions<LoggerFilterOptions>>().Value.Rules, r => r.ProviderName == typeof(ConsoleLoggerProvider).FullName && r.Filter is not null);
        return (category, level) => rule.Filter!(rule.ProviderName, category, level);
    }

    /// <summary>The scope the worker opens around an invocation (its telemetry provider's attributes).</summary>
    private static object InvocationScope(IServiceProvider services, FunctionContext context)
    {
        var type = typeof(WorkerOptions).Assembly.GetType("Microsoft.Azure.Functions.Worker.Diagnostics.IFunctionTelemetryProvider", throwOnError: true)!;
        var provider = services.GetRequiredService(type);
        return type.GetMethod("GetScopeAttributes")!.Invoke(provider, [context])!;
    }

    /// <summary>The log messages the worker has queued for the host.</summary>
    private static List<(string Category, string LogCategory, string InvocationId, string Message)> HostLogLines(IServiceProvider services)
    {
        var channelType = AppDomain.CurrentDomain.GetAssemblies().Select(a => a.GetType("Microsoft.Azure.Functions.Worker.GrpcHostChannel")).First(t => t is not null)!;
        var channel = channelType.GetProperty("Channel")!.GetValue(services.GetRequiredService(channelType))!;
        var reader = channel.GetType().GetProperty("Reader")!.GetValue(channel)!;
        var tryRead = reader.GetType().GetMethod("TryRead")!;
        var lines = new List<(string, string, string, string)>();
        var args = new object?[1];
        while ((bool)tryRead.Invoke(reader, args)!)
        {
            var log = args[0]!.GetType().GetProperty("RpcLog")!.GetValue(args[0]);
            if (log is null)
                continue;
            string Read(string property) => log.GetType().GetProperty(property)!.GetValue(log)?.ToString() ?? string.Empty;
            lines.Add((Read("Category"), Read("LogCategory"), Read("InvocationId"), Read("Message")));
        }

        return lines;
    }
}

using Microsoft.Azure.Functions.Worker.Middleware;
using Microsoft.Azure.Functions.Worker;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Console;
using Microsoft.Extensions.Logging;

namespace FunctionApp.Hosting;

/// <summary>
/// Gets the worker's own log lines to the Functions host's console (what <c>func start</c> shows) exactly once:
/// <list type="bullet">
/// <item>Lines written during an invocation travel to the host over gRPC, and the host prints only those that carry
/// the invocation's id. The worker's OpenTelemetry defaults (schema 1.37.0) leave that id out of the log scope, so the
/// host dropped every line (azure-functions-dotnet-worker issues 3487 and 3489); pinning the schema the worker reports to
/// 1.17.0 puts it back, and <c>UseFunctionsWorkerDefaults</c> still tells the host not to export them a second time.</item>
/// <item>Lines written outside any invocation (start-up, provisioning, model refresh, warm-up) have no invocation for the
/// host to attach them to; they go to standard output, which the host prints, unless an OpenTelemetry exporter is
/// configured (then they reach the exporter from the worker, and printing them would send them a second time through
/// the host's own export of the worker's output).</item>
/// </list>
/// </summary>
public static class WorkerLogging
{
    /// <summary>The capability that tells the host which OpenTelemetry conventions the worker's scopes follow.</summary>
    public const string SchemaCapability = "WorkerOpenTelemetrySchemaVersion";

    /// <summary>The schema whose log scope carries <c>AzureFunctions_InvocationId</c>, the key the host matches logs on.</summary>
    public const string SchemaWithInvocationId = "1.17.0";

    private static readonly AsyncLocal<bool> InInvocation = new();

    /// <summary>Whether the current code runs inside a function invocation (set by <see cref="InvocationMarker"/>).</summary>
    public static bool IsInInvocation => InInvocation.Value;

    public static void Configure(IServiceCollection services, ILoggingBuilder logging, IConfiguration configuration, bool exportersConfigured)
    {
        ArgumentNullException.ThrowIfNull(logging);
        ArgumentNullException.ThrowIfNull(configuration);
        services.PostConfigure<WorkerOptions>(o => o.Capabilities[SchemaCapability] = SchemaWithInvocationId);
        if (exportersConfigured)
            return;
        logging.AddSimpleConsole(o => o.SingleLine = true);
        logging.AddFilter<ConsoleLoggerProvider>((_, _) => !IsInInvocation);
    }

    /// <summary>Marks the code an invocation runs, so its lines are left to the gRPC path.</summary>
    public sealed class InvocationMarker : IFunctionsWorkerMiddleware
    {
        public async Task Invoke(FunctionContext context, FunctionExecutionDelegate next)
        {
            ArgumentNullException.ThrowIfNull(next);
            InInvocation.Value = true;
            try
            {
                await next(context);
            }
            finally
            {
                InInvocation.Value = false;
            }
        }
    }
}

using Azure.Core;
using Azure.Identity;
using Azure.Monitor.OpenTelemetry.Exporter;
using FunctionApp.Telemetry;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using OpenTelemetry.Metrics;
using OpenTelemetry.Trace;
using OpenTelemetry;

namespace FunctionApp.Hosting;

public static class TelemetryServiceCollectionExtensions
{
    /// <summary>The setting Azure sets to the Application Insights connection string (not a secret: it holds no key).</summary>
    public const string ConnectionStringSetting = "APPLICATIONINSIGHTS_CONNECTION_STRING";

    /// <summary><c>Authorization=AAD;ClientId=…</c>: send telemetry with a managed identity, as a resource with local auth disabled needs.</summary>
    public const string AuthenticationSetting = "APPLICATIONINSIGHTS_AUTHENTICATION_STRING";

    /// <summary>
    /// Distinct sets of tags each metric keeps (OpenTelemetry's default is 2,000, held in an array made up front for every
    /// metric: about 3.3 MB for the 23 metrics a server reports). A metric's tags here are a model and version, a route,
    /// a method, a status code: far fewer; sets past the limit are counted together under OpenTelemetry's overflow tag.
    /// </summary>
    public const int MetricPointsPerStream = 500;

    /// <summary>The standard OpenTelemetry setting for an OTLP collector (the Aspire dashboard, Jaeger, Grafana Alloy).</summary>
    public const string OtlpEndpointSetting = "OTEL_EXPORTER_OTLP_ENDPOINT";

    /// <summary>
    /// OpenTelemetry for the app's own spans (<see cref="InferenceActivity"/>) and metrics (<see cref="InferenceMetrics"/>),
    /// exported to Azure Monitor when <see cref="ConnectionStringSetting"/> is set and to OTLP when
    /// <see cref="OtlpEndpointSetting"/> is set. The host adds its own instrumentation to the returned builder.
    /// </summary>
    public static OpenTelemetryBuilder AddInferenceTelemetry(this IServiceCollection services, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        var builder = services.AddOpenTelemetry()
            .WithTracing(tracing => tracing.AddSource(InferenceActivity.SourceName))
            .WithMetrics(metrics => metrics.AddMeter(InferenceMetrics.MeterName)
                .AddView(_ => new MetricStreamConfiguration { CardinalityLimit = MetricPointsPerStream }));

        if (configuration[ConnectionStringSetting] is { Length: > 0 } connectionString)
            UseAzureMonitor(builder, connectionString, configuration[AuthenticationSetting]);

        if (configuration[OtlpEndpointSetting] is { Length: > 0 })
            builder.UseOtlpExporter();
        return builder;
    }

    // A method of its own, so that without Application Insights neither its exporter nor Azure.Core is loaded.
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining)]
    private static void UseAzureMonitor(OpenTelemetryBuilder builder, string connectionString, string? authentication)
    {
        var credential = ManagedIdentityFrom(authentication);
        builder.UseAzureMonitorExporter(options =>
        {
            options.ConnectionString = connectionString;
            if (credential is not null)
                options.Credential = credential;
        });
    }

    /// <summary>Whether any exporter is configured: Application Insights or an OTLP endpoint.</summary>
    public static bool HasExporters(IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        return configuration[ConnectionStringSetting] is { Length: > 0 } || configuration[OtlpEndpointSetting] is { Length: > 0 };
    }

    /// <summary>
    /// The credential an authentication string asks for: a user-assigned identity for
    /// <c>Authorization=AAD;ClientId=…</c>, the system-assigned one for <c>Authorization=AAD</c>, none otherwise.
    /// </summary>
    public static TokenCredential? ManagedIdentityFrom(string? authenticationString)
    {
        if (string.IsNullOrWhiteSpace(authenticationString))
            return null;
        var parts = authenticationString.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(part => part.Split('=', 2, StringSplitOptions.TrimEntries))
            .Where(pair => pair.Length == 2)
            .ToDictionary(pair => pair[0], pair => pair[1], StringComparer.OrdinalIgnoreCase);
        if (!parts.TryGetValue("Authorization", out var authorization) || !authorization.Equals("AAD", StringComparison.OrdinalIgnoreCase))
            throw new InvalidOperationException($"{AuthenticationSetting} must say Authorization=AAD (optionally with ClientId=<user-assigned identity client id>).");
        return parts.TryGetValue("ClientId", out var clientId) && clientId.Length > 0
            ? new ManagedIdentityCredential(ManagedIdentityId.FromUserAssignedClientId(clientId))
            : new ManagedIdentityCredential(ManagedIdentityId.SystemAssigned);
    }
}

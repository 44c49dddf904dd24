using Azure.Identity;
using Azure.Monitor.OpenTelemetry.Exporter;
using FunctionApp.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace FunctionApp.Tests.Telemetry;

public class TelemetryConfigurationTests
{
    private const string ConnectionString = "InstrumentationKey=00000000-0000-0000-0000-000000000000;IngestionEndpoint=https://example.invalid/";
    private static readonly string[] HostArguments = ["--host", "127.0.0.1", "--port", "50051", "--workerId", "w1", "--requestId", "r1", "--grpcMaxMessageLength", "2147483647"];

    [Fact]
    public void FunctionsWorker_WithAppInsightsSettings_ExportsToAzureMonitorWithTheManagedIdentity()
    {
        using var host = FunctionsWorkerHost.Build([
            .. HostArguments,
            "--" + TelemetryServiceCollectionExtensions.ConnectionStringSetting, ConnectionString,
            "--" + TelemetryServiceCollectionExtensions.AuthenticationSetting, "Authorization=AAD;ClientId=11111111-2222-3333-4444-555555555555",
        ]);

        var options = host.Services.GetRequiredService<IOptionsMonitor<AzureMonitorExporterOptions>>().Get(Options.DefaultName);

        Assert.Equal(ConnectionString, options.ConnectionString);
        Assert.IsType<ManagedIdentityCredential>(options.Credential);
    }

    [Fact]
    public void FunctionsWorker_WithoutAppInsights_HasNoAzureMonitorExporter()
    {
        using var host = FunctionsWorkerHost.Build(HostArguments);

        var options = host.Services.GetRequiredService<IOptionsMonitor<AzureMonitorExporterOptions>>().Get(Options.DefaultName);

        Assert.Null(options.ConnectionString);
        Assert.Null(options.Credential);
    }

    [Theory]
    [InlineData(null, false)]
    [InlineData("", false)]
    [InlineData("Authorization=AAD", true)]
    [InlineData("Authorization=AAD;ClientId=11111111-2222-3333-4444-555555555555", true)]
    [InlineData(" authorization = aad ; clientid = abc ", true)]
    public void ManagedIdentityFrom_AuthenticationString_GivesAManagedIdentityOnlyForAad(string? value, bool expected)
    {
        var credential = TelemetryServiceCollectionExtensions.ManagedIdentityFrom(value);

        Assert.Equal(expected, credential is ManagedIdentityCredential);
    }

    [Fact]
    public void ManagedIdentityFrom_OtherAuthorization_FailsNamingTheSetting()
    {
        var error = Assert.Throws<InvalidOperationException>(() => TelemetryServiceCollectionExtensions.ManagedIdentityFrom("Authorization=Key"));

        Assert.Contains(TelemetryServiceCollectionExtensions.AuthenticationSetting, error.Message, StringComparison.Ordinal);
    }
}

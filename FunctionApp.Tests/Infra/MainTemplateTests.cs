using System.Reflection;
using System.Text.Json;
using System.Text.RegularExpressions;
using FunctionApp.Storage;

namespace FunctionApp.Tests.Infra;

/// <summary>
/// What infra/main.bicep deploys, read from its compiled ARM template (modules included) and compared with the
/// app itself: its storage constants and the bindings in the build's functions.metadata.
/// </summary>
public partial class MainTemplateTests
{
    /// <summary>The Flex Consumption deployment package container (infra/app/storage.bicep).</summary>
    private const string DeploymentContainer = "app-package";

    // Built-in role definition ids.
    private const string StorageBlobDataOwner = "b7e6dc6d-f1e8-4753-8033-0f276bb0955b";
    private const string StorageQueueDataContributor = "974c5e8b-45b9-4653-ba55-5f855dd0fb88";
    private const string StorageTableDataContributor = "0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3";
    private const string MonitoringMetricsPublisher = "3913510d-42f4-4e42-8a64-420c390055eb";
    private const string StorageBlobDataContributor = "ba92f5b4-2d11-453d-a403-e96b0029c9fe";

    // Lazy rather than static fields: a template that does not compile fails each test with bicep's diagnostics.
    private static readonly Lazy<JsonElement> Compiled = new(() => BicepCli.Build("main.bicep"));

    private static JsonElement Main => Compiled.Value;

    private static ArmTemplate.Resource[] Resources => [.. ArmTemplate.Resources(Main)];

    private static ArmTemplate.Resource Single(string type) => Assert.Single(Resources.OfType(type));

    private static Dictionary<string, string> AppSettings()
    {
        var settings = Assert.Single(Resources.OfType("Microsoft.Web/sites/config"), r => r.Json.GetProperty("name").GetString()!.EndsWith("'appsettings')]", StringComparison.Ordinal));
        Assert.Equal(JsonValueKind.Object, settings.Properties.ValueKind);
        return settings.Properties.EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetString()!);
    }

    private static string[] StorageConstants(string suffix) =>
        [.. typeof(StorageOptions).GetFields(BindingFlags.Public | BindingFlags.Static)
            .Where(f => f.IsLiteral && f.FieldType == typeof(string) && f.Name.EndsWith(suffix, StringComparison.Ordinal))
            .Select(f => (string)f.GetRawConstantValue()!)];

    private static JsonElement Parameter(string name) => Main.GetProperty("parameters").GetProperty(name);

    [Fact]
    public void Storage_Containers_AreTheAppsContainersAndTheDeploymentPackage()
    {
        var expected = StorageConstants("Container").Append(DeploymentContainer).Order(StringComparer.Ordinal);
        var declared = Resources.OfType("Microsoft.Storage/storageAccounts/blobServices/containers").SelectMany(r => r.LeafNames()).Order(StringComparer.Ordinal);

        Assert.True(StorageConstants("Container").Length >= 8);
        Assert.Equal(expected, declared);
    }

    [Fact]
    public void Storage_Queues_AreTheAppsQueues()
    {
        var declared = Resources.OfType("Microsoft.Storage/storageAccounts/queueServices/queues").SelectMany(r => r.LeafNames());

        Assert.NotEmpty(StorageConstants("Queue"));
        Assert.Equal(StorageConstants("Queue").Order(StringComparer.Ordinal), declared.Order(StringComparer.Ordinal));
    }

    [Fact]
    public void Storage_Account_TakesNoSharedKeysNoAnonymousReadsAndOnlyHttpsWithTls12()
    {
        var account = Single("Microsoft.Storage/storageAccounts");

        Assert.False(account.Properties.GetProperty("allowSharedKeyAccess").GetBoolean());
        Assert.False(account.Properties.GetProperty("allowBlobPublicAccess").GetBoolean());
        Assert.True(account.Properties.GetProperty("supportsHttpsTrafficOnly").GetBoolean());
        Assert.Equal("TLS1_2", account.Property("minimumTlsVersion"));
    }

    [Fact]
    public void ApplicationInsights_IsWorkspaceBasedWithLocalAuthDisabled()
    {
        var insights = Single("Microsoft.Insights/components");

        Assert.True(insights.Properties.GetProperty("DisableLocalAuth").GetBoolean());
        Assert.Contains("Microsoft.OperationalInsights/workspaces", insights.Property("WorkspaceResourceId"), StringComparison.Ordinal);
        Single("Microsoft.OperationalInsights/workspaces");
    }

    [Fact]
    public void Template_NeverReadsStorageKeysOrSas()
    {
        var text = Main.GetRawText();

        Assert.DoesNotContain("listKeys(", text, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("listAccountSas(", text, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("listServiceSas(", text, StringComparison.OrdinalIgnoreCase);
        Assert.All(AppSettings(), s =>
        {
            Assert.DoesNotContain("AccountKey=", s.Value, StringComparison.OrdinalIgnoreCase);
            Assert.DoesNotContain("SharedAccessSignature", s.Value, StringComparison.OrdinalIgnoreCase);
        });
    }

    [Fact]
    public void AppSettings_StorageAndTelemetry_AuthenticateWithTheUserAssignedIdentity()
    {
        var settings = AppSettings();

        Assert.DoesNotContain("AzureWebJobsStorage", settings.Keys);
        Assert.Equal("managedidentity", settings["AzureWebJobsStorage__credential"]);
        Assert.Equal("[parameters('identityClientId')]", settings["AzureWebJobsStorage__clientId"]);
        Assert.Equal("[parameters('blobEndpoint')]", settings["AzureWebJobsStorage__blobServiceUri"]);
        Assert.Equal("[parameters('queueEndpoint')]", settings["AzureWebJobsStorage__queueServiceUri"]);
        Assert.Equal("[parameters('tableEndpoint')]", settings["AzureWebJobsStorage__tableServiceUri"]);
        Assert.Equal("[parameters('applicationInsightsConnectionString')]", settings["APPLICATIONINSIGHTS_CONNECTION_STRING"]);
        Assert.Equal("[format('ClientId={0};Authorization=AAD', parameters('identityClientId'))]", settings["APPLICATIONINSIGHTS_AUTHENTICATION_STRING"]);
    }

    [Fact]
    public void AppSettings_DisableExactlyThePollingBlobTriggers()
    {
        var settings = AppSettings();
        var disabled = BlobTriggers.All
            .Where(t => settings.TryGetValue($"AzureWebJobs.{t.Function}.Disabled", out var value) && value == "true")
            .Select(t => t.Function);

        Assert.NotEmpty(BlobTriggers.EventGrid);
        Assert.Equal(BlobTriggers.Polling.Select(t => t.Function).Order(StringComparer.Ordinal), disabled.Order(StringComparer.Ordinal));
        Assert.All(BlobTriggers.EventGrid, t => Assert.DoesNotContain($"AzureWebJobs.{t.Function}.Disabled", settings.Keys));
    }

    [Fact]
    public void AppSettings_InferenceApp_GetsTheDefaultModelAndAKeepWarmScheduleWithTheTimerOff()
    {
        var settings = AppSettings();

        Assert.Equal("[parameters('defaultModel')]", settings["Models__Default"]);
        Assert.Equal("fashion-resnet18", Parameter("defaultModel").GetProperty("defaultValue").GetString());
        Assert.Equal("[parameters('keepWarmSchedule')]", settings["KeepWarmSchedule"]);
        Assert.Equal("0 */5 * * * *", Parameter("keepWarmSchedule").GetProperty("defaultValue").GetString());
        Assert.Equal("[if(parameters('keepWarmEnabled'), 'false', 'true')]", settings["AzureWebJobs.KeepWarm.Disabled"]);
        Assert.False(Parameter("keepWarmEnabled").GetProperty("defaultValue").GetBoolean());
    }

    [Fact]
    public void AppSettings_CapTheCAllocatorsHeapsAtTwo()
    {
        // glibc reads this only from the environment at process start, so the deployment sets it, not the app.
        Assert.Equal("2", AppSettings()["MALLOC_ARENA_MAX"]);
    }

    [Fact]
    public void AppSettings_SiteRoot_IsTheTryItPageNotTheHostsLandingPage()
    {
        Assert.Equal("true", AppSettings()["AzureWebJobsDisableHomepage"]);
    }

    [Fact]
    public void RoleAssignments_AreTheLeastPrivilegeSet_EachNamedByGuidAndScopedToItsResource()
    {
        var assignments = Resources.OfType("Microsoft.Authorization/roleAssignments").ToArray();
        var roles = assignments.Select(a => RoleId().Match(a.Property("roleDefinitionId")!).Value).ToArray();

        // The app's identity: blobs, queues, the host's diagnostic tables, telemetry; the deploying user: blobs.
        Assert.Equal(
            new[] { StorageBlobDataOwner, StorageQueueDataContributor, StorageTableDataContributor, MonitoringMetricsPublisher, StorageBlobDataContributor }.Order(StringComparer.Ordinal),
            roles.Order(StringComparer.Ordinal));
        Assert.All(assignments, a =>
        {
            Assert.StartsWith("[guid(", a.Json.GetProperty("name").GetString(), StringComparison.Ordinal);
            var scope = a.Json.GetProperty("scope").GetString()!;
            Assert.Matches(@"^\[resourceId\('Microsoft\.(Storage/storageAccounts|Insights/components)', parameters\('\w+'\)\)\]$", scope);
        });
    }

    [Fact]
    public void FunctionApp_RunsDotnet10IsolatedOnFlexConsumptionAsTheIdentity()
    {
        var plan = Single("Microsoft.Web/serverfarms");
        var site = Single("Microsoft.Web/sites");
        var config = site.Properties.GetProperty("functionAppConfig");
        var deployment = config.GetProperty("deployment").GetProperty("storage");
        var scale = config.GetProperty("scaleAndConcurrency");

        Assert.Equal("FC1", plan.Json.GetProperty("sku").GetProperty("name").GetString());
        Assert.Equal("FlexConsumption", plan.Json.GetProperty("sku").GetProperty("tier").GetString());
        Assert.True(plan.Properties.GetProperty("reserved").GetBoolean());
        Assert.Equal("functionapp,linux", site.Json.GetProperty("kind").GetString());
        Assert.True(site.Properties.GetProperty("httpsOnly").GetBoolean());
        Assert.Contains("'azd-service-name', 'api'", site.Json.GetProperty("tags").GetString(), StringComparison.Ordinal);
        Assert.Equal("dotnet-isolated", config.GetProperty("runtime").GetProperty("name").GetString());
        Assert.Equal("10.0", config.GetProperty("runtime").GetProperty("version").GetString());
        Assert.Equal("blobContainer", deployment.GetProperty("type").GetString());
        Assert.Equal("UserAssignedIdentity", deployment.GetProperty("authentication").GetProperty("type").GetString());
        Assert.Equal("[parameters('instanceMemoryMB')]", scale.GetProperty("instanceMemoryMB").GetString());
        Assert.Equal("[parameters('maximumInstanceCount')]", scale.GetProperty("maximumInstanceCount").GetString());
        Assert.Contains("parameters('alwaysReadyInstanceCount')", scale.GetProperty("alwaysReady").GetString(), StringComparison.Ordinal);
        Assert.Equal("UserAssigned", site.Json.GetProperty("identity").GetProperty("type").GetString());
    }

    [Fact]
    public void Parameters_ScaleSettings_HaveBoundsAndDefaults()
    {
        Assert.Equal([512, 2048, 4096], Parameter("instanceMemoryMB").GetProperty("allowedValues").EnumerateArray().Select(v => v.GetInt32()));
        Assert.Equal(2048, Parameter("instanceMemoryMB").GetProperty("defaultValue").GetInt32());
        Assert.Equal(1, Parameter("maximumInstanceCount").GetProperty("minValue").GetInt32());
        Assert.Equal(1000, Parameter("maximumInstanceCount").GetProperty("maxValue").GetInt32());
        Assert.Equal(100, Parameter("maximumInstanceCount").GetProperty("defaultValue").GetInt32());
        Assert.Equal(0, Parameter("alwaysReadyInstanceCount").GetProperty("minValue").GetInt32());
        Assert.Equal(0, Parameter("alwaysReadyInstanceCount").GetProperty("defaultValue").GetInt32());
    }

    [Fact]
    public void EventGrid_SystemTopic_CarriesTheStorageAccountsEvents()
    {
        var topic = Single("Microsoft.EventGrid/systemTopics");

        Assert.Equal("Microsoft.Storage.StorageAccounts", topic.Property("topicType"));
        Assert.Equal("[parameters('storageAccountId')]", topic.Property("source"));
    }

    [Fact]
    public void Outputs_IncludeWhatAzdAndThePostdeployHookRead()
    {
        var outputs = Main.GetProperty("outputs").EnumerateObject().Select(o => o.Name).ToHashSet();

        Assert.Superset(
            new HashSet<string> { "AZURE_LOCATION", "AZURE_TENANT_ID", "AZURE_RESOURCE_GROUP", "AZURE_FUNCTION_APP_NAME", "SERVICE_API_NAME", "SERVICE_API_URI", "AZURE_STORAGE_ACCOUNT_NAME", "EVENTGRID_SYSTEM_TOPIC_NAME" },
            outputs);
        Assert.Superset(HookScript.EnvironmentValues().ToHashSet(), outputs);
    }

    [Fact]
    public void ParametersFile_NamesOnlyTemplateParameters_WithTheTemplatesDefaults()
    {
        using var file = JsonDocument.Parse(File.ReadAllText(Path.Combine(BicepCli.InfraDirectory, "main.parameters.json")));
        var values = file.RootElement.GetProperty("parameters").EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetProperty("value").GetString()!);
        var parameters = Main.GetProperty("parameters").EnumerateObject().ToArray();

        Assert.Equal(parameters.Select(p => p.Name).Order(StringComparer.Ordinal), values.Keys.Order(StringComparer.Ordinal));
        Assert.All(parameters, p =>
        {
            var substitution = AzdSubstitution().Match(values[p.Name]);
            Assert.True(substitution.Success, $"{p.Name}: {values[p.Name]} is not an azd ${{VARIABLE}} substitution");
            if (substitution.Groups["default"].Success)
            {
                var templateDefault = p.Value.GetProperty("defaultValue");
                var text = templateDefault.ValueKind is JsonValueKind.True or JsonValueKind.False ? templateDefault.GetRawText() : templateDefault.ToString();
                Assert.Equal(text, substitution.Groups["default"].Value);
            }
        });
    }

    [GeneratedRegex("[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")]
    private static partial Regex RoleId();

    [GeneratedRegex(@"^\$\{[A-Z_]+(=(?<default>[^}]*))?\}$")]
    private static partial Regex AzdSubstitution();
}

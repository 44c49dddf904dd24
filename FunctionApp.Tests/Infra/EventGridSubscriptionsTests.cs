using System.Text.Json;
using System.Text.RegularExpressions;

namespace FunctionApp.Tests.Infra;

/// <summary>
/// infra/app/eventgrid-subscriptions.bicep, which the postdeploy hook deploys once the code runs: one subscription
/// per Event Grid blob trigger in the build's functions.metadata, each on that trigger's container.
/// </summary>
public partial class EventGridSubscriptionsTests
{
    private const string Template = "app/eventgrid-subscriptions.bicep";

    private static readonly Lazy<JsonElement> Build = new(() => BicepCli.Build(Template));

    private static JsonElement Compiled => Build.Value;

    private sealed record Subscription(string Function, string Container, string[] EventTypes, string EndpointUrl);

    private static Subscription[] Subscriptions() =>
        [.. ArmTemplate.Resources(Compiled).OfType("Microsoft.EventGrid/systemTopics/eventSubscriptions").Select(r =>
        {
            var destination = r.Properties.GetProperty("destination");
            var url = destination.GetProperty("properties").GetProperty("endpointUrl").GetString()!;
            var filter = r.Properties.GetProperty("filter");
            var function = Webhook().Match(url);
            var container = Subject().Match(filter.GetProperty("subjectBeginsWith").GetString()!);
            Assert.Equal("WebHook", destination.GetProperty("endpointType").GetString());
            Assert.True(function.Success && url.Contains("https://", StringComparison.Ordinal) && url.Contains("/runtime/webhooks/blobs", StringComparison.Ordinal), $"not the blob extension's webhook: {url}");
            Assert.True(container.Success, $"not one container's blobs: {filter.GetProperty("subjectBeginsWith")}");
            return new Subscription(function.Groups[1].Value, container.Groups[1].Value, [.. filter.GetProperty("includedEventTypes").EnumerateArray().Select(e => e.GetString()!)], url);
        })];

    [Fact]
    public void Subscriptions_EachFeedsAnEventGridBlobTriggerFromItsOwnContainer()
    {
        var subscriptions = Subscriptions();

        Assert.NotEmpty(subscriptions);
        Assert.All(subscriptions, s =>
        {
            var trigger = Assert.Single(BlobTriggers.All, t => t.Function == s.Function);
            Assert.True(trigger.EventGrid, $"{s.Function} is a polling blob trigger; Event Grid cannot call it");
            Assert.Equal(trigger.Container, s.Container);
            Assert.Equal(["Microsoft.Storage.BlobCreated"], s.EventTypes);
        });
    }

    [Fact]
    public void Subscriptions_CoverEveryEventGridBlobTrigger()
    {
        Assert.Equal(
            BlobTriggers.EventGrid.Select(t => t.Function).Order(StringComparer.Ordinal),
            Subscriptions().Select(s => s.Function).Order(StringComparer.Ordinal));
    }

    [Fact]
    public void Subscriptions_WebhookKey_IsTheDeployedAppsBlobsExtensionKey()
    {
        Assert.All(Subscriptions(), s =>
        {
            Assert.Contains("listKeys(format('{0}/host/default', resourceId('Microsoft.Web/sites', parameters('functionAppName')))", s.EndpointUrl, StringComparison.Ordinal);
            Assert.Contains(".systemKeys.blobs_extension", s.EndpointUrl, StringComparison.Ordinal);
            Assert.Contains("reference(resourceId('Microsoft.Web/sites', parameters('functionAppName'))", s.EndpointUrl, StringComparison.Ordinal);
        });
    }

    [Fact]
    public void Hook_AzureYamlRunsItAfterDeploy_AndItDeploysThisTemplateWithItsParameters()
    {
        var azureYaml = File.ReadAllText(Path.Combine(BicepCli.InfraDirectory, "..", "azure.yaml"));
        var templateParameters = Compiled.GetProperty("parameters").EnumerateObject().Select(p => p.Name);

        Assert.Matches(@"(?m)^hooks:\n  postdeploy:\n(    .*\n)*    run: \./infra/scripts/eventgrid-subscriptions\.sh$", azureYaml);
        Assert.True(File.Exists(HookScript.Path));
        Assert.True(OperatingSystem.IsWindows() || (File.GetUnixFileMode(HookScript.Path) & UnixFileMode.UserExecute) != 0, "the hook script is not executable");
        Assert.Contains($"--template-file infra/{Template}", HookScript.Text, StringComparison.Ordinal);
        Assert.Equal(templateParameters.Order(StringComparer.Ordinal), HookScript.TemplateParameters().Order(StringComparer.Ordinal));
    }

    [GeneratedRegex(@"\?functionName=Host\.Functions\.(\w+)&code=")]
    private static partial Regex Webhook();

    [GeneratedRegex("^/blobServices/default/containers/([a-z0-9-]+)/$")]
    private static partial Regex Subject();
}

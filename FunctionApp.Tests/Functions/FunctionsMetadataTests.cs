using System.Text.Json;
using FunctionApp.Api;

namespace FunctionApp.Tests.Functions;

/// <summary>
/// The build's generated functions.metadata is what the Functions host reads: checking it catches a broken
/// binding (route, method, auth level, trigger type) without running the host.
/// </summary>
public class FunctionsMetadataTests
{
    private static readonly JsonElement[] Functions = Load();

    private static JsonElement[] Load()
    {
        var path = Path.Combine(AppContext.BaseDirectory, "functions.metadata");
        Assert.True(File.Exists(path), $"{path} is missing: the Functions SDK writes it when FunctionApp builds");
        using var document = JsonDocument.Parse(File.ReadAllText(path));
        return document.RootElement.EnumerateArray().Select(e => e.Clone()).ToArray();
    }

    private static IEnumerable<JsonElement> HttpFunctions => Functions.Where(f => Trigger(f).GetProperty("type").GetString() == "httpTrigger");

    private static JsonElement Trigger(JsonElement function) =>
        function.GetProperty("bindings").EnumerateArray().Single(b => b.GetProperty("direction").GetString() == "In");

    [Fact]
    public void Metadata_HasExactlyTheApiRoutes()
    {
        Assert.Equal(ApiRoutes.All.Select(r => r.Name).Order(), HttpFunctions.Select(f => f.GetProperty("name").GetString()).Order());
    }

    [Theory]
    [InlineData("ProcessImage", "images/{name}", null)]
    [InlineData("ProcessImageEventGrid", "images/{name}", "EventGrid")]
    [InlineData("ProcessBatch", "batches/{name}", null)]
    [InlineData("ProcessBatchEventGrid", "batches/{name}", "EventGrid")]
    [InlineData("ModelPublished", "models/{name}", null)]
    [InlineData("ModelPublishedEventGrid", "models/{name}", "EventGrid")]
    [InlineData("StartChainFromBlob", "chain-images/{name}", null)]
    [InlineData("StartChainFromBlobEventGrid", "chain-images/{name}", "EventGrid")]
    public void Metadata_BlobTriggers_WatchTheirContainerThroughTheNamedConnection(string name, string path, string? source)
    {
        var trigger = Trigger(Functions.Single(f => f.GetProperty("name").GetString() == name));

        Assert.Equal("blobTrigger", trigger.GetProperty("type").GetString());
        Assert.Equal(path, trigger.GetProperty("path").GetString());
        Assert.Equal("AzureWebJobsStorage", trigger.GetProperty("connection").GetString());
        Assert.Equal(source, trigger.TryGetProperty("source", out var s) ? s.GetString() : null);
    }

    [Fact]
    public void Metadata_RunSliceStep_IsAQueueTriggerOnTheStepsQueue()
    {
        var trigger = Trigger(Functions.Single(f => f.GetProperty("name").GetString() == "RunSliceStep"));

        Assert.Equal("queueTrigger", trigger.GetProperty("type").GetString());
        Assert.Equal("slice-steps", trigger.GetProperty("queueName").GetString());
        Assert.Equal("AzureWebJobsStorage", trigger.GetProperty("connection").GetString());
    }

    [Fact]
    public void Metadata_KeepWarm_IsATimerOnTheConfiguredSchedule()
    {
        var trigger = Trigger(Functions.Single(f => f.GetProperty("name").GetString() == "KeepWarm"));

        Assert.Equal("timerTrigger", trigger.GetProperty("type").GetString());
        Assert.Equal("%KeepWarmSchedule%", trigger.GetProperty("schedule").GetString());
    }

    [Fact]
    public void LocalSettingsSample_TurnsOffTheEventGridTriggersForLocalPolling()
    {
        var path = Path.Combine(AppContext.BaseDirectory, "..", "..", "..", "..", "local.settings.sample.json");
        using var settings = JsonDocument.Parse(File.ReadAllText(path));
        var values = settings.RootElement.GetProperty("Values");

        Assert.Equal("true", values.GetProperty("AzureWebJobs.ProcessImageEventGrid.Disabled").GetString());
        Assert.Equal("true", values.GetProperty("AzureWebJobs.ProcessBatchEventGrid.Disabled").GetString());
        Assert.Equal("true", values.GetProperty("AzureWebJobs.ModelPublishedEventGrid.Disabled").GetString());
        Assert.Equal("UseDevelopmentStorage=true", values.GetProperty("AzureWebJobsStorage").GetString());
        Assert.Equal("true", values.GetProperty("AzureWebJobs.KeepWarm.Disabled").GetString());
        Assert.Equal("0 */5 * * * *", values.GetProperty("KeepWarmSchedule").GetString());
    }

    [Theory]
    [MemberData(nameof(Routes))]
    public void Metadata_EachRoute_HasItsTriggerMethodAndAuthLevel(string name, string method, string template, bool anonymous)
    {
        var function = Functions.Single(f => f.GetProperty("name").GetString() == name);
        var trigger = Trigger(function);

        Assert.Equal("httpTrigger", trigger.GetProperty("type").GetString());
        Assert.Equal(template, trigger.GetProperty("route").GetString());
        Assert.Equal([method], trigger.GetProperty("methods").EnumerateArray().Select(m => m.GetString()));
        Assert.Equal(anonymous ? "Anonymous" : "Function", trigger.GetProperty("authLevel").GetString());
        Assert.Equal("dotnet-isolated", function.GetProperty("language").GetString());
        Assert.Contains(function.GetProperty("bindings").EnumerateArray(), b => b.GetProperty("type").GetString() == "http" && b.GetProperty("direction").GetString() == "Out");
    }

    [Fact]
    public void HostJson_RoutePrefixIsEmpty_SoApiAndV2RoutesResolveAsWritten()
    {
        using var host = JsonDocument.Parse(File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "host.json")));

        Assert.Equal("2.0", host.RootElement.GetProperty("version").GetString());
        Assert.Equal(string.Empty, host.RootElement.GetProperty("extensions").GetProperty("http").GetProperty("routePrefix").GetString());
    }

    [Fact]
    public void Routes_HealthTheApiDocumentAndPagesAreAnonymousAndEverythingElseNeedsAKey()
    {
        Assert.All(ApiRoutes.All, r => Assert.Equal(r.IsPage || r.Template.Contains("health", StringComparison.Ordinal) || r.Template.EndsWith("/ready", StringComparison.Ordinal) || r.Template == ApiRoutes.OpenApi, r.Anonymous));
    }

    [Fact]
    public void Routes_TheOnlyPageIsTheTryItPageAtTheSiteRoot()
    {
        var page = Assert.Single(ApiRoutes.All, r => r.IsPage);

        Assert.Equal(("TryIt", "get", "{ignored:maxlength(0)?}"), (page.Name, page.Method, page.Template));
    }

    [Fact]
    public void LocalSettingsSample_TurnsOffTheHostsLandingPage()
    {
        var path = Path.Combine(AppContext.BaseDirectory, "..", "..", "..", "..", "local.settings.sample.json");
        using var settings = JsonDocument.Parse(File.ReadAllText(path));

        Assert.Equal("true", settings.RootElement.GetProperty("Values").GetProperty("AzureWebJobsDisableHomepage").GetString());
    }

    public static TheoryData<string, string, string, bool> Routes()
    {
        var data = new TheoryData<string, string, string, bool>();
        foreach (var r in ApiRoutes.All)
            data.Add(r.Name, r.Method, r.Template, r.Anonymous);
        return data;
    }
}

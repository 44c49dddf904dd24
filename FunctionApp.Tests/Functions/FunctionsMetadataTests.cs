using System.Text.Json;
using FunctionApp.Api;
using FunctionApp.Hosting;
using FunctionApp.Tests.Infra;
using FunctionApp.Triggers;

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

    [Theory]
    [InlineData("RunSliceStep", "slice-steps")]
    [InlineData("ConcludeSliceStep", "slice-steps-poison")]
    [InlineData("RunBatchChunk", "batch-chunks")]
    [InlineData("ConcludeBatchChunk", "batch-chunks-poison")]
    [InlineData("ConcludeBlob", "webjobs-blobtrigger-poison")]
    public void Metadata_QueueTriggers_ReadTheirQueueThroughTheNamedConnection(string name, string queue)
    {
        var trigger = Trigger(Functions.Single(f => f.GetProperty("name").GetString() == name));

        Assert.Equal("queueTrigger", trigger.GetProperty("type").GetString());
        Assert.Equal(queue, trigger.GetProperty("queueName").GetString());
        Assert.Equal("AzureWebJobsStorage", trigger.GetProperty("connection").GetString());
    }

    /// <summary>serve's triggers (on the WebJobs engine) are the function app's polling blob and queue triggers: same names, same paths.</summary>
    [Fact]
    public void ServeTriggers_AreTheFunctionAppsPollingBlobAndQueueTriggers()
    {
        static string Path(JsonElement trigger) => trigger.TryGetProperty("path", out var p) ? p.GetString()! : trigger.GetProperty("queueName").GetString()!;
        var functions = Functions
            .Where(f => Trigger(f).GetProperty("type").GetString() is "blobTrigger" or "queueTrigger" && !Trigger(f).TryGetProperty("source", out _))
            .Select(f => $"{f.GetProperty("name").GetString()} {Path(Trigger(f))}")
            .Order(StringComparer.Ordinal);
        var serve = typeof(FunctionApp.Hosting.ServeTriggers).GetMethods()
            .Select(m => (Name: m.GetCustomAttributes(typeof(Microsoft.Azure.WebJobs.FunctionNameAttribute), false).Cast<Microsoft.Azure.WebJobs.FunctionNameAttribute>().SingleOrDefault()?.Name, Method: m))
            .Where(m => m.Name is not null)
            .Select(m =>
            {
                var attributes = m.Method.GetParameters().SelectMany(p => p.GetCustomAttributes(false)).ToList();
                var path = attributes.OfType<Microsoft.Azure.WebJobs.BlobTriggerAttribute>().SingleOrDefault()?.BlobPath
                    ?? attributes.OfType<Microsoft.Azure.WebJobs.QueueTriggerAttribute>().Single().QueueName;
                return $"{m.Name} {path}";
            })
            .Order(StringComparer.Ordinal);

        Assert.Equal(functions, serve);
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

    [Fact]
    public void LocalSettingsSample_CapsTheCAllocatorsHeapsAsTheDeploymentDoes()
    {
        var path = Path.Combine(AppContext.BaseDirectory, "..", "..", "..", "..", "local.settings.sample.json");
        using var settings = JsonDocument.Parse(File.ReadAllText(path));

        Assert.Equal("2", settings.RootElement.GetProperty("Values").GetProperty("MALLOC_ARENA_MAX").GetString());
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
    public void HostJson_TriggersTryFiveTimesAndPollQueuesEveryTwoSecondsAtMost()
    {
        using var host = JsonDocument.Parse(File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "host.json")));
        var extensions = host.RootElement.GetProperty("extensions");

        Assert.Equal(5, extensions.GetProperty("blobs").GetProperty("poisonBlobThreshold").GetInt32());
        Assert.Equal(5, extensions.GetProperty("queues").GetProperty("maxDequeueCount").GetInt32());
        Assert.Equal(FunctionApp.Triggers.TriggerPoison.Tries, extensions.GetProperty("queues").GetProperty("maxDequeueCount").GetInt32());
        Assert.True(TimeSpan.Parse(extensions.GetProperty("queues").GetProperty("maxPollingInterval").GetString()!, System.Globalization.CultureInfo.InvariantCulture) <= TimeSpan.FromSeconds(2));
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

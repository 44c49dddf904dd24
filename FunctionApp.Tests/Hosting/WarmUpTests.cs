using System.Net.Http.Headers;
using System.Text.Json;
using FunctionApp.Tests.Support;
using SkiaSharp;

namespace FunctionApp.Tests.Hosting;

/// <summary>Lazy and eager warm-up, and per-version traffic on the models route, over <c>serve</c>.</summary>
[Trait("Category", "EndToEnd")]
public sealed class WarmUpTests(Xunit.Abstractions.ITestOutputHelper output) : IDisposable
{
    private readonly ModelRoot _models = new();

    public void Dispose() => _models.Dispose();

    private async Task<JsonElement> NewestVersion(RunningServer server) =>
        await TryNewestVersion(server) ?? throw new Xunit.Sdk.XunitException("/api/models/tiny-cnn did not answer with the model's versions.");

    /// <summary>The newest version as /api/models describes it; null, with the answer written to the test output, when it is not the listing.</summary>
    private async Task<JsonElement?> TryNewestVersion(RunningServer server)
    {
        using var response = await server.Client.GetAsync("/api/models/tiny-cnn");
        var body = await response.Content.ReadAsStringAsync();
        var root = response.StatusCode == System.Net.HttpStatusCode.OK ? JsonDocument.Parse(body).RootElement : default;
        if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("versions", out var versions))
        {
            output.WriteLine($"/api/models/tiny-cnn answered {(int)response.StatusCode}: {body}");
            return null;
        }

        return versions[0];
    }

    [Theory]
    [InlineData("Eager")]
    [InlineData(null)] // serve's default
    public async Task Eager_LoadsTheDefaultModelWithoutAnyRequest(string? warmUp)
    {
        var settings = _models.Settings();
        if (warmUp is not null)
            settings["Models:WarmUp"] = warmUp;
        await using var server = await RunningServer.StartAsync(settings);

        await Poll.UntilAsync(
            // Null fields are left out of answers: until the warm-up's prediction, firstPredictionMs is absent.
            async () => (await TryNewestVersion(server)) is { } v && v.GetProperty("coldStart").TryGetProperty("firstPredictionMs", out var ms) && ms.ValueKind == JsonValueKind.Number,
            TimeSpan.FromSeconds(30),
            "the eager warm-up to load the default model and run its trial prediction");
        var version = await NewestVersion(server);

        Assert.Equal("loaded", version.GetProperty("coldStart").GetProperty("state").GetString());
        Assert.True(version.GetProperty("coldStart").GetProperty("firstPredictionMs").GetDouble() > 0);

        // The warm-up's trial prediction is a cold-start fact, not traffic.
        Assert.Equal(0, version.GetProperty("traffic").GetProperty("predictions").GetInt64());
    }

    [Fact]
    public async Task Lazy_LoadsOnFirstUseAndCountsTraffic()
    {
        var settings = _models.Settings();
        settings["Models:WarmUp"] = "Lazy";
        await using var server = await RunningServer.StartAsync(settings);
        Assert.Equal("notLoaded", (await NewestVersion(server)).GetProperty("coldStart").GetProperty("state").GetString());

        for (int i = 0; i < 5; i++)
        {
            using var content = new ByteArrayContent(Images.Solid(8, 8, SKColors.Red));
            content.Headers.ContentType = new MediaTypeHeaderValue("image/png");
            using var response = await server.Client.PostAsync("/api/predict", content);
            response.EnsureSuccessStatusCode();
        }

        var version = await NewestVersion(server);
        Assert.Equal("loaded", version.GetProperty("coldStart").GetProperty("state").GetString());
        var traffic = version.GetProperty("traffic");
        Assert.Equal(5, traffic.GetProperty("predictions").GetInt64());
        Assert.Equal(0, traffic.GetProperty("failures").GetInt64());
        Assert.True(traffic.GetProperty("p95Ms").GetDouble() > 0);
    }
}

using System.Net.Http.Headers;
using System.Net;
using System.Text.RegularExpressions;
using FunctionApp.Hosting;
using FunctionApp.Tests.Support;
using SkiaSharp;

namespace FunctionApp.Tests.Telemetry;

/// <summary>
/// OpenTelemetry listens to meters by name across the whole process, so the exact counts here hold only while no
/// other test records metrics: this collection runs on its own.
/// </summary>
[CollectionDefinition(nameof(ProcessWideMetrics), DisableParallelization = true)]
public sealed class ProcessWideMetrics;

/// <summary><c>serve</c> shows the app's metrics at /metrics in the Prometheus text format, behind its API key.</summary>
[Collection(nameof(ProcessWideMetrics))]
[Trait("Category", "EndToEnd")]
public sealed partial class ServeMetricsTests : IDisposable
{
    private const string Key = "metrics-key";
    private readonly ModelRoot _models = new();

    public void Dispose() => _models.Dispose();

    [GeneratedRegex("""^(?<name>[a-z_]+)\{(?<labels>[^}]*)\} (?<value>\S+)$""", RegexOptions.Multiline)]
    private static partial Regex Sample();

    /// <summary>The value of the one sample of <paramref name="name"/> whose labels include all of <paramref name="labels"/>.</summary>
    private static double Value(string exposition, string name, params string[] labels)
    {
        var match = Assert.Single(Sample().Matches(exposition), m => m.Groups["name"].Value == name && labels.All(l => m.Groups["labels"].Value.Contains(l, StringComparison.Ordinal)));
        return double.Parse(match.Groups["value"].Value, System.Globalization.CultureInfo.InvariantCulture);
    }

    [Fact]
    public async Task Metrics_AfterPredictions_ShowsLoadLatencyAndCountsPerModelVersion()
    {
        var settings = _models.Settings();
        settings["Api:ApiKey"] = Key;
        settings["Models:WarmUp"] = "Lazy"; // the load and every prediction come from the requests below, not a warm-up
        await using var server = await RunningServer.StartAsync(settings);
        server.Client.DefaultRequestHeaders.Add("x-functions-key", Key);

        for (int i = 0; i < 3; i++)
        {
            using var image = new ByteArrayContent(Images.Solid(8, 8, SKColors.Red));
            image.Headers.ContentType = new MediaTypeHeaderValue("image/png");
            (await server.Client.PostAsync("api/predict", image)).EnsureSuccessStatusCode();
        }

        using var bad = new ByteArrayContent("not an image"u8.ToArray());
        bad.Headers.ContentType = new MediaTypeHeaderValue("image/png");
        Assert.Equal(HttpStatusCode.UnsupportedMediaType, (await server.Client.PostAsync("api/predict", bad)).StatusCode);

        using var response = await server.Client.GetAsync(SelfHostedServer.MetricsPath);
        var text = await response.Content.ReadAsStringAsync();

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(3, Value(text, "inference_predictions_total", "model=\"tiny-cnn\"", "model_version=\"2\"", "outcome=\"success\""));
        Assert.Equal(1, Value(text, "inference_model_load_duration_seconds_count", "model=\"tiny-cnn\"", "model_version=\"2\""));
        Assert.Equal(3, Value(text, "inference_duration_seconds_count", "model=\"tiny-cnn\""));
        Assert.Equal(3, Value(text, "inference_preprocess_duration_seconds_count", "model=\"tiny-cnn\""));
        Assert.Equal(3, Value(text, "http_server_request_duration_seconds_count", "http_route=\"/api/predict\"", "http_response_status_code=\"200\""));
        Assert.Equal(1, Value(text, "http_server_request_duration_seconds_count", "http_route=\"/api/predict\"", "http_response_status_code=\"415\""));
    }

    [Fact]
    public async Task Metrics_WithoutTheApiKey_IsRefusedWithProblemJson()
    {
        var settings = _models.Settings();
        settings["Api:ApiKey"] = Key;
        await using var server = await RunningServer.StartAsync(settings);

        using var response = await server.Client.GetAsync(SelfHostedServer.MetricsPath);

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.DoesNotContain("inference_", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }
}

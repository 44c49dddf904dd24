using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Net;
using System.Text.Json;
using System.Text;
using FunctionApp.Api;
using FunctionApp.Hosting;
using FunctionApp.Tests.Support;
using Microsoft.AspNetCore.Routing;
using SkiaSharp;

namespace FunctionApp.Tests.Hosting;

/// <summary>Starts <c>serve</c> once on loopback, on the tiny CNN models, with an API key.</summary>
public sealed class TinyModelServerFixture : IAsyncLifetime, IDisposable
{
    public const string Key = "s3cret-key";
    private readonly ModelRoot _models = new();

    public RunningServer Server { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        var settings = _models.Settings(maxImageBytes: 50_000);
        settings["Api:ApiKey"] = Key;
        settings["Api:MaxRequestBytes"] = "2000000";
        Server = await RunningServer.StartAsync(settings);
    }

    public async Task DisposeAsync() => await Server.DisposeAsync();

    public void Dispose() => _models.Dispose();
}

/// <summary>The self-hosted server over real HTTP: every content type, every error status, keys, and the v2 protocol.</summary>
[Trait("Category", "EndToEnd")]
public class SelfHostedServerTests(TinyModelServerFixture fixture) : IClassFixture<TinyModelServerFixture>
{
    private static readonly byte[] Red = Images.Solid(16, 16, SKColors.Red);
    private static readonly byte[] Blue = Images.Solid(24, 12, SKColors.Blue, SKEncodedImageFormat.Webp);
    private HttpClient Client => fixture.Server.Client;

    private static HttpRequestMessage Post(string path, HttpContent content, bool withKey = true)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = content };
        if (withKey)
            request.Headers.Add("x-functions-key", TinyModelServerFixture.Key);
        return request;
    }

    private static ByteArrayContent Raw(byte[] data, string contentType)
    {
        var content = new ByteArrayContent(data);
        content.Headers.ContentType = MediaTypeHeaderValue.Parse(contentType);
        return content;
    }

    private static async Task<JsonElement> Json(HttpResponseMessage response) =>
        JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;

    [Fact]
    public async Task Predict_RawBody_Answers()
    {
        using var response = await Client.SendAsync(Post("/api/predict?top=1", Raw(Red, "image/png")));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal("red", (await Json(response)).GetProperty("images")[0].GetProperty("top")[0].GetProperty("label").GetString());
    }

    [Fact]
    public async Task Predict_Multipart_ManyFiles()
    {
        using var form = new MultipartFormDataContent
        {
            { new ByteArrayContent(Red), "first", "red.png" },
            { new ByteArrayContent(Blue), "second", "blue.webp" },
            { new ByteArrayContent(Images.Solid(8, 8, new SKColor(0, 200, 0), SKEncodedImageFormat.Jpeg)), "third", "green.jpg" },
        };

        using var response = await Client.SendAsync(Post("/api/predict?top=1", form));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var labels = (await Json(response)).GetProperty("images").EnumerateArray().Select(i => i.GetProperty("top")[0].GetProperty("label").GetString());
        Assert.Equal(["red", "blue", "green"], labels);
    }

    [Fact]
    public async Task Predict_JsonBase64()
    {
        var body = JsonContent.Create(new { images = new[] { new { name = "b", data = Convert.ToBase64String(Blue) }, new { name = "r", data = Convert.ToBase64String(Red) } } });

        using var response = await Client.SendAsync(Post("/api/predict", body));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var images = (await Json(response)).GetProperty("images");
        Assert.Equal(["blue", "red"], images.EnumerateArray().Select(i => i.GetProperty("top")[0].GetProperty("label").GetString()));
        Assert.Equal(3, images[0].GetProperty("top").GetArrayLength());
    }

    [Theory]
    [InlineData("/api/predict", "text/csv", "a,b", 415)]
    [InlineData("/api/predict", "image/png", "not a png", 415)]
    [InlineData("/api/predict?top=-1", "image/png", "RED", 400)]
    [InlineData("/api/predict?model=ghost", "image/png", "RED", 404)]
    [InlineData("/api/predict?model=broken", "image/png", "RED", 503)]
    [InlineData("/api/predict", "image/jpeg", "TRUNCATED", 422)]
    [InlineData("/api/predict", "image/png", "LARGE", 413)]
    [InlineData("/api/predict", "application/json", "[1,2]", 400)]
    public async Task Predict_EveryErrorStatus_IsProblemJson(string path, string contentType, string body, int status)
    {
        var data = body switch
        {
            "RED" => Red,
            "TRUNCATED" => Images.Solid(64, 64, SKColors.Red, SKEncodedImageFormat.Jpeg)[..200],
            "LARGE" => new byte[60_000],
            _ => Encoding.UTF8.GetBytes(body),
        };
        if (body == "LARGE")
            Red.CopyTo(data, 0);

        using var response = await Client.SendAsync(Post(path, Raw(data, contentType)));

        Assert.Equal(status, (int)response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var json = await Json(response);
        Assert.Equal(status, json.GetProperty("status").GetInt32());
        Assert.False(string.IsNullOrWhiteSpace(json.GetProperty("detail").GetString()));
        if (status == 503)
            Assert.Equal("7", response.Headers.RetryAfter?.ToString());
    }

    [Fact]
    public async Task Predict_RequestOverTheBodyLimit_Is413()
    {
        using var response = await Client.SendAsync(Post("/api/predict", Raw(new byte[2_100_000], "application/json")));

        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
        Assert.Contains("Api:MaxRequestBytes", (await Json(response)).GetProperty("detail").GetString());
    }

    [Theory]
    [InlineData("/api/models")]
    [InlineData("/api/models/tiny-cnn")]
    [InlineData("/v2")]
    [InlineData("/v2/models/tiny-cnn")]
    public async Task KeyedRoutes_WithoutTheKey_Are401(string path)
    {
        using var response = await Client.GetAsync(path);

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
    }

    [Fact]
    public async Task KeyedRoutes_AcceptTheKeyAsCodeQueryParameter()
    {
        using var withCode = await Client.GetAsync($"/api/models?code={TinyModelServerFixture.Key}");
        using var wrongCode = await Client.GetAsync("/api/models?code=nope");

        Assert.Equal(HttpStatusCode.OK, withCode.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, wrongCode.StatusCode);
    }

    [Theory]
    [InlineData("/api/health/live")]
    [InlineData("/api/health/ready")]
    [InlineData("/v2/health/live")]
    [InlineData("/v2/health/ready")]
    [InlineData("/v2/models/tiny-cnn/ready")]
    [InlineData("/v2/models/tiny-cnn/versions/1/ready")]
    public async Task HealthRoutes_AreAnonymous(string path)
    {
        using var response = await Client.GetAsync(path);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Fact]
    public async Task V2_ReadyOfAModelThatCannotLoad_Is503()
    {
        using var response = await Client.GetAsync("/v2/models/broken/ready");

        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        Assert.False((await Json(response)).GetProperty("ready").GetBoolean());
    }

    [Fact]
    public async Task Predict_ManyConcurrentRequests_AllAnsweredCorrectly()
    {
        var colours = new[] { ("red", SKColors.Red), ("green", new SKColor(0, 255, 0)), ("blue", SKColors.Blue) };
        var requests = Enumerable.Range(0, 48).Select(async i =>
        {
            var (label, colour) = colours[i % 3];
            using var response = await Client.SendAsync(Post("/api/predict?top=1", Raw(Images.Solid(10 + i, 10, colour), "image/png")));
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal(label, (await Json(response)).GetProperty("images")[0].GetProperty("top")[0].GetProperty("label").GetString());
        });

        await Task.WhenAll(requests);
    }

    [Fact]
    public void Server_MapsExactlyTheRoutesOfTheFunctionApp()
    {
        var endpoints = ((EndpointDataSource)fixture.Server.Services.GetService(typeof(EndpointDataSource))!).Endpoints.OfType<RouteEndpoint>().ToList();

        // Beside the function app's routes, serve has one of its own: the Prometheus metrics.
        Assert.Single(endpoints, e => e.RoutePattern.RawText == FunctionApp.Hosting.SelfHostedServer.MetricsPath);
        var served = endpoints
            .Where(e => e.RoutePattern.RawText != FunctionApp.Hosting.SelfHostedServer.MetricsPath)
            .Select(e => (Method: e.Metadata.GetMetadata<Microsoft.AspNetCore.Routing.HttpMethodMetadata>()!.HttpMethods.Single().ToLowerInvariant(), Template: e.RoutePattern.RawText!.Trim('/')))
            .Order()
            .ToList();

        Assert.Equal(ApiRoutes.All.Select(r => (r.Method, r.Template)).Order(), served);
    }
}

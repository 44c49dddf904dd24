using System.Text.Json;
using System.Text;
using FunctionApp.Api;
using FunctionApp.Functions;
using FunctionApp.Tests.Support;
using Microsoft.Extensions.DependencyInjection;
using SkiaSharp;

namespace FunctionApp.Tests.Functions;

/// <summary>The function classes called directly with real ASP.NET Core request objects, on the tiny CNN.</summary>
public sealed class PredictionFunctionsTests : IDisposable
{
    private readonly ModelRoot _models = new();
    private readonly ServiceProvider _services;
    private readonly PredictionFunctions _functions;

    public PredictionFunctionsTests()
    {
        _services = TestServices.Create(_models.Settings(maxImageBytes: 50_000));
        _functions = new PredictionFunctions(_services.GetRequiredService<PredictionApi>());
    }

    public void Dispose()
    {
        _services.Dispose();
        _models.Dispose();
    }

    private static readonly byte[] Red = Images.Solid(16, 16, SKColors.Red);
    private static readonly byte[] Green = Images.Solid(16, 16, new SKColor(0, 255, 0), SKEncodedImageFormat.Jpeg);

    private async Task<CapturedResponse> Predict(string? contentType, byte[]? body, string query = "")
    {
        var request = FunctionInvoker.Request(_services, "POST", contentType, body, query);
        return await FunctionInvoker.Execute(request, await _functions.Predict(request, CancellationToken.None));
    }

    private static JsonElement Json(CapturedResponse response) => JsonDocument.Parse(response.Body).RootElement;

    [Theory]
    [InlineData("image/png")]
    [InlineData("application/octet-stream")]
    public async Task Predict_RawImage_AnswersWithModelVersionLabelsAndTimings(string contentType)
    {
        var response = await Predict(contentType, Red, "?top=2");

        Assert.Equal(200, response.Status);
        var json = Json(response);
        Assert.Equal("tiny-cnn", json.GetProperty("model").GetString());
        Assert.Equal("2", json.GetProperty("version").GetString());
        var image = json.GetProperty("images")[0];
        Assert.Equal(2, image.GetProperty("top").GetArrayLength());
        Assert.Equal("red", image.GetProperty("top")[0].GetProperty("label").GetString());
        Assert.Equal(2, image.GetProperty("top")[0].GetProperty("index").GetInt32());
        Assert.True(image.GetProperty("timings").GetProperty("inferenceMs").GetDouble() > 0);
    }

    [Fact]
    public async Task Predict_RawBodiesOneAfterAnother_EachAnswersForItsOwnBytes()
    {
        // Raw bodies are read into pooled arrays: a smaller body after a larger one must not see the larger one's bytes.
        var largeRed = Images.Solid(120, 120, SKColors.Red);
        Assert.True(largeRed.Length > Green.Length);

        foreach (var (body, type, label) in new[] { (largeRed, "image/png", "red"), (Green, "image/jpeg", "green"), (largeRed, "image/png", "red"), (Green, "image/jpeg", "green") })
        {
            var response = await Predict(type, body, "?top=1");

            Assert.Equal(200, response.Status);
            Assert.Equal(label, Json(response).GetProperty("images")[0].GetProperty("top")[0].GetProperty("label").GetString());
        }
    }

    [Fact]
    public async Task Predict_RawBodyShorterThanItsDeclaredLength_Is400AndTheNextRequestIsAnswered()
    {
        // The connection broke after half the declared bytes: the pooled array goes back and the request gets a 400.
        var request = FunctionInvoker.Request(_services, "POST", "image/png", Red[..(Red.Length / 2)]);
        request.ContentLength = Red.Length;

        var response = await FunctionInvoker.Execute(request, await _functions.Predict(request, CancellationToken.None));

        Assert.Equal(400, response.Status);
        Assert.Equal("application/problem+json", response.ContentType);
        Assert.Contains("could not be read to its end", response.Body, StringComparison.Ordinal);
        Assert.Equal(200, (await Predict("image/png", Red)).Status);
    }

    [Fact]
    public async Task Predict_PinnedVersion_IsTheVersionThatAnswers()
    {
        var response = await Predict("image/png", Red, "?model=tiny-cnn&version=1");

        Assert.Equal(200, response.Status);
        Assert.Equal("1", Json(response).GetProperty("version").GetString());
    }

    [Fact]
    public async Task Predict_MultipartWithManyFiles_ScoresEachInOrder()
    {
        var (body, contentType) = await FunctionInvoker.Multipart(("a", "red.png", Red), ("b", "green.jpg", Green));

        var response = await Predict(contentType, body, "?top=1");

        Assert.Equal(200, response.Status);
        var images = Json(response).GetProperty("images");
        Assert.Equal(["red.png", "green.jpg"], images.EnumerateArray().Select(i => i.GetProperty("name").GetString()));
        Assert.Equal(["red", "green"], images.EnumerateArray().Select(i => i.GetProperty("top")[0].GetProperty("label").GetString()));
    }

    [Fact]
    public async Task Predict_JsonBase64_SingleAndList()
    {
        var single = await Predict("application/json", Encoding.UTF8.GetBytes($$"""{"image": "{{Convert.ToBase64String(Red)}}"}"""));
        var list = await Predict("application/json", Encoding.UTF8.GetBytes($$"""{"images": [{"name": "g", "data": "data:image/jpeg;base64,{{Convert.ToBase64String(Green)}}"}, {"name": "r", "data": "{{Convert.ToBase64String(Red)}}"}]}"""));

        Assert.Equal(200, single.Status);
        Assert.Equal("red", Json(single).GetProperty("images")[0].GetProperty("top")[0].GetProperty("label").GetString());
        Assert.Equal(200, list.Status);
        Assert.Equal(["green", "red"], Json(list).GetProperty("images").EnumerateArray().Select(i => i.GetProperty("top")[0].GetProperty("label").GetString()));
    }

    [Fact]
    public async Task Predict_ManyImagesSomeBad_AnswersTheGoodOnesAndNamesTheBad()
    {
        var (body, contentType) = await FunctionInvoker.Multipart(("a", "red.png", Red), ("b", "notes.txt", "hello"u8.ToArray()));

        var response = await Predict(contentType, body);

        Assert.Equal(200, response.Status);
        var images = Json(response).GetProperty("images");
        Assert.Equal("red", images[0].GetProperty("top")[0].GetProperty("label").GetString());
        Assert.Equal("unsupportedFormat", images[1].GetProperty("errorKind").GetString());
        Assert.Contains("not a supported image format", images[1].GetProperty("error").GetString());
    }

    [Theory]
    [InlineData("text/plain", "hello", "", 415, "Content-Type 'text/plain' is not accepted")]
    [InlineData(null, "hello", "", 415, "is not accepted")]
    [InlineData("image/jpeg", "BROKEN_JPEG", "", 422, "image/jpeg data cannot be decoded")]
    [InlineData("image/png", "%PDF-1.4", "", 415, "not a supported image format")]
    [InlineData("application/json", "{not json", "", 400, "JSON body is not valid")]
    [InlineData("application/json", "{\"image\": \"***\"}", "", 400, "'image' is not valid base64")]
    [InlineData("application/json", "{}", "", 400, "needs \"image\"")]
    [InlineData("image/png", "RED", "?top=0", 400, "'top' must be a whole number")]
    [InlineData("image/png", "RED", "?top=many", 400, "'top' must be a whole number")]
    [InlineData("image/png", "RED", "?model=nope", 404, "No model named 'nope'")]
    [InlineData("image/png", "RED", "?model=tiny-cnn&version=9", 404, "has no version '9' (available: 2, 1)")]
    [InlineData("image/png", "", "", 400, "The image is empty")]
    public async Task Predict_BadInput_IsProblemJsonWithTheRightStatus(string? contentType, string body, string query, int status, string detail)
    {
        var bytes = body switch
        {
            "RED" => Red,
            "BROKEN_JPEG" => [0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10, 0x4A, 0x46, 0x49, 0x46, 0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06],
            _ => Encoding.UTF8.GetBytes(body),
        };

        var response = await Predict(contentType, bytes, query);

        Assert.Equal(status, response.Status);
        Assert.Equal("application/problem+json", response.ContentType);
        var json = Json(response);
        Assert.Equal(status, json.GetProperty("status").GetInt32());
        Assert.Contains(detail, json.GetProperty("detail").GetString());
    }

    [Fact]
    public async Task Predict_ImageOverTheByteLimit_Is413NamingTheLimit()
    {
        var big = Images.Draw(400, 400, c =>
        {
            var random = new Random(1);
            using var paint = new SKPaint();
            for (int i = 0; i < 4000; i++)
            {
                paint.Color = new SKColor((byte)random.Next(256), (byte)random.Next(256), (byte)random.Next(256));
                c.DrawRect(random.Next(400), random.Next(400), 3, 3, paint);
            }
        });
        Assert.True(big.Length > 50_000);

        var response = await Predict("image/png", big);

        Assert.Equal(413, response.Status);
        Assert.Contains("ImageLimits:MaxBytes", Json(response).GetProperty("detail").GetString());
    }

    [Fact]
    public async Task Predict_ModelThatCannotLoad_Is503WithRetryAfter()
    {
        var response = await Predict("image/png", Red, "?model=broken");

        Assert.Equal(503, response.Status);
        Assert.Equal("7", response.Headers.RetryAfter.ToString());
        Assert.Contains("could not be loaded", Json(response).GetProperty("detail").GetString());
    }

    [Fact]
    public async Task Models_ListAndGet_DescribeManifestAndColdStart()
    {
        var warm = await Predict("image/png", Red);
        Assert.Equal(200, warm.Status);

        var listRequest = FunctionInvoker.Request(_services, "GET");
        var list = await FunctionInvoker.Execute(listRequest, await _functions.ListModels(listRequest));
        var getRequest = FunctionInvoker.Request(_services, "GET");
        var get = await FunctionInvoker.Execute(getRequest, await _functions.GetModel(getRequest, "tiny-cnn"));
        var missingRequest = FunctionInvoker.Request(_services, "GET");
        var missing = await FunctionInvoker.Execute(missingRequest, await _functions.GetModel(missingRequest, "nope"));

        Assert.Equal(200, list.Status);
        var models = Json(list);
        Assert.Equal("tiny-cnn", models.GetProperty("defaultModel").GetString());
        Assert.Equal(3, models.GetProperty("models").GetArrayLength());
        var broken = models.GetProperty("models").EnumerateArray().Single(m => m.GetProperty("name").GetString() == "broken");
        Assert.Equal("notLoaded", broken.GetProperty("coldStart").GetProperty("state").GetString());

        Assert.Equal(200, get.Status);
        var versions = Json(get).GetProperty("versions");
        Assert.Equal(["2", "1"], versions.EnumerateArray().Select(v => v.GetProperty("version").GetString()));
        var newest = versions[0];
        Assert.True(newest.GetProperty("isDefault").GetBoolean());
        Assert.Equal("BGR", newest.GetProperty("input").GetProperty("channelOrder").GetString());
        Assert.Equal(3, newest.GetProperty("classes").GetInt32());
        Assert.Equal("loaded", newest.GetProperty("coldStart").GetProperty("state").GetString());
        Assert.True(newest.GetProperty("coldStart").GetProperty("loadMs").GetDouble() > 0);
        Assert.True(newest.GetProperty("coldStart").GetProperty("firstPredictionMs").GetDouble() > 0);
        Assert.Equal("notLoaded", versions[1].GetProperty("coldStart").GetProperty("state").GetString());

        Assert.Equal(404, missing.Status);
    }

    [Fact]
    public async Task Health_LiveAndReady_ReportTheDefaultModel()
    {
        var liveRequest = FunctionInvoker.Request(_services, "GET");
        var live = await FunctionInvoker.Execute(liveRequest, PredictionFunctions.HealthLive(liveRequest));
        var readyRequest = FunctionInvoker.Request(_services, "GET");
        var ready = await FunctionInvoker.Execute(readyRequest, await _functions.HealthReady(readyRequest, CancellationToken.None));

        Assert.Equal(200, live.Status);
        Assert.Equal(200, ready.Status);
        var json = Json(ready);
        Assert.Equal("ready", json.GetProperty("status").GetString());
        Assert.Equal("2", json.GetProperty("version").GetString());
        Assert.Equal("loaded", json.GetProperty("coldStart").GetProperty("state").GetString());
    }

    [Fact]
    public async Task HealthReady_DefaultModelCannotLoad_Is503()
    {
        using var services = TestServices.Create(new Dictionary<string, string?>(_models.Settings()) { ["Models:Default"] = "broken" });
        var functions = new PredictionFunctions(services.GetRequiredService<PredictionApi>());
        var request = FunctionInvoker.Request(services, "GET");

        var response = await FunctionInvoker.Execute(request, await functions.HealthReady(request, CancellationToken.None));

        Assert.Equal(503, response.Status);
        Assert.Equal("7", response.Headers.RetryAfter.ToString());
        Assert.Equal("broken", Json(response).GetProperty("model").GetString());
    }
}

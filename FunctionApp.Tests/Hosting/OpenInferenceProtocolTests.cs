using System.Net;
using System.Text.Json;
using System.Text;
using FunctionApp.Tests.Support;
using SkiaSharp;

namespace FunctionApp.Tests.Hosting;

/// <summary>
/// The v2 (KServe / Triton) REST protocol over real HTTP, with requests shaped as their clients send them:
/// tritonclient.http's JSON for an FP32 tensor (with its output parameters), KServe's BYTES image input.
/// </summary>
public class OpenInferenceProtocolTests(TinyModelServerFixture fixture) : IClassFixture<TinyModelServerFixture>
{
    private HttpClient Client => fixture.Server.Client;

    private async Task<(HttpStatusCode Status, JsonElement Json)> Send(HttpMethod method, string path, string? json = null)
    {
        using var request = new HttpRequestMessage(method, path);
        request.Headers.Add("x-functions-key", TinyModelServerFixture.Key);
        if (json is not null)
            request.Content = new StringContent(json, Encoding.UTF8, "application/json");
        using var response = await Client.SendAsync(request);
        var body = await response.Content.ReadAsStringAsync();
        return (response.StatusCode, JsonDocument.Parse(body).RootElement.Clone());
    }

    /// <summary>A BGR tensor of one colour per channel, flattened, as a client would send it.</summary>
    private static string Tensor(float blue, float green, float red) =>
        string.Join(",", Enumerable.Repeat(blue, 64).Concat(Enumerable.Repeat(green, 64)).Concat(Enumerable.Repeat(red, 64)).Select(v => v.ToString(System.Globalization.CultureInfo.InvariantCulture)));

    [Fact]
    public async Task Server_MetadataAndHealth()
    {
        var (status, server) = await Send(HttpMethod.Get, "/v2");
        var (liveStatus, live) = await Send(HttpMethod.Get, "/v2/health/live");
        var (readyStatus, ready) = await Send(HttpMethod.Get, "/v2/health/ready");

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("fashion-inference", server.GetProperty("name").GetString());
        Assert.Contains("classification", server.GetProperty("extensions").EnumerateArray().Select(e => e.GetString()));
        Assert.Equal((HttpStatusCode.OK, true), (liveStatus, live.GetProperty("live").GetBoolean()));
        Assert.Equal((HttpStatusCode.OK, true), (readyStatus, ready.GetProperty("ready").GetBoolean()));
    }

    [Fact]
    public async Task ModelMetadata_ListsTensorAndImageInputsAndTheProbabilitiesOutput()
    {
        var (status, json) = await Send(HttpMethod.Get, "/v2/models/tiny-cnn");
        var (versionStatus, pinned) = await Send(HttpMethod.Get, "/v2/models/tiny-cnn/versions/1");

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("tiny-cnn", json.GetProperty("name").GetString());
        Assert.Equal(["2", "1"], json.GetProperty("versions").EnumerateArray().Select(v => v.GetString()));
        var input = json.GetProperty("inputs")[0];
        Assert.Equal(("image", "FP32"), (input.GetProperty("name").GetString(), input.GetProperty("datatype").GetString()));
        Assert.Equal([-1L, 3, 8, 8], input.GetProperty("shape").EnumerateArray().Select(d => d.GetInt64()));
        Assert.Equal("BYTES", json.GetProperty("inputs")[1].GetProperty("datatype").GetString());
        var output = json.GetProperty("outputs")[0];
        Assert.Equal("probabilities", output.GetProperty("name").GetString());
        Assert.Equal([-1L, 3], output.GetProperty("shape").EnumerateArray().Select(d => d.GetInt64()));
        Assert.Equal(HttpStatusCode.OK, versionStatus);
        Assert.Equal("tiny-cnn", pinned.GetProperty("name").GetString());
    }

    [Fact]
    public async Task Infer_TritonClientStyleFp32Request_RoundTrips()
    {
        // As tritonclient.http sends it: shape, datatype, flat data, output with binary_data false.
        var body = $$$"""
            {"id": "req-7",
             "inputs": [{"name": "image", "shape": [2, 3, 8, 8], "datatype": "FP32", "parameters": {}, "data": [{{{Tensor(0, 0, 4)}}}, {{{Tensor(4, 0, 0)}}}]}],
             "outputs": [{"name": "probabilities", "parameters": {"binary_data": false}}]}
            """;

        var (status, json) = await Send(HttpMethod.Post, "/v2/models/tiny-cnn/infer", body);

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(("tiny-cnn", "2", "req-7"), (json.GetProperty("model_name").GetString(), json.GetProperty("model_version").GetString(), json.GetProperty("id").GetString()));
        var output = json.GetProperty("outputs")[0];
        Assert.Equal(("probabilities", "FP32"), (output.GetProperty("name").GetString(), output.GetProperty("datatype").GetString()));
        Assert.Equal([2L, 3], output.GetProperty("shape").EnumerateArray().Select(d => d.GetInt64()));
        var data = output.GetProperty("data").EnumerateArray().Select(d => d.GetSingle()).ToArray();
        // The tensor is already preprocessed, so the logits are the channel means: [0, 0, 4] and [4, 0, 0].
        float expected = MathF.Exp(4f) / (MathF.Exp(4f) + 2f);
        Assert.Equal(expected, data[2], 1e-4f); // first row: red (channel 2)
        Assert.Equal(expected, data[3], 1e-4f); // second row: blue (channel 0)
        Assert.Equal(1f, data[..3].Sum(), 1e-4f);
    }

    [Fact]
    public async Task Infer_NestedDataAndPinnedVersion_AreAccepted()
    {
        var nested = "[[" + string.Join("],[", Enumerable.Range(0, 3).Select(c => string.Join(",", Enumerable.Repeat(c == 1 ? "200" : "0", 64)))) + "]]";
        var body = $$$"""{"inputs": [{"name": "image", "shape": [1, 3, 8, 8], "datatype": "FP32", "data": {{{nested}}}}]}""";

        var (status, json) = await Send(HttpMethod.Post, "/v2/models/tiny-cnn/versions/1/infer", body);

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("1", json.GetProperty("model_version").GetString());
        var data = json.GetProperty("outputs")[0].GetProperty("data").EnumerateArray().Select(d => d.GetSingle()).ToArray();
        Assert.Equal(1, Array.IndexOf(data, data.Max()));
    }

    [Fact]
    public async Task Infer_KServeStyleBytesImages_WithClassificationExtension()
    {
        var red = Convert.ToBase64String(Images.Solid(12, 12, SKColors.Red));
        var green = Convert.ToBase64String(Images.Solid(12, 12, new SKColor(0, 255, 0), SKEncodedImageFormat.Jpeg));
        var body = $$$"""
            {"inputs": [{"name": "input-0", "shape": [2], "datatype": "BYTES", "data": ["{{{red}}}", "{{{green}}}"]}],
             "outputs": [{"name": "probabilities", "parameters": {"classification": 2}}]}
            """;

        var (status, json) = await Send(HttpMethod.Post, "/v2/models/tiny-cnn/infer", body);

        Assert.Equal(HttpStatusCode.OK, status);
        var output = json.GetProperty("outputs")[0];
        Assert.Equal("BYTES", output.GetProperty("datatype").GetString());
        Assert.Equal([2L, 2], output.GetProperty("shape").EnumerateArray().Select(d => d.GetInt64()));
        var data = output.GetProperty("data").EnumerateArray().Select(d => d.GetString()!).ToArray();
        Assert.EndsWith(":2:red", data[0]);
        Assert.EndsWith(":1:green", data[2]);
        Assert.True(float.Parse(data[0].Split(':')[0], System.Globalization.CultureInfo.InvariantCulture) > 0.9f);
    }

    [Theory]
    [InlineData("""{"inputs": []}""", HttpStatusCode.BadRequest, "exactly one input")]
    [InlineData("""{"inputs": [{"name": "image", "shape": [1, 3, 4, 4], "datatype": "FP32", "data": [1]}]}""", HttpStatusCode.BadRequest, "expected [N,3,8,8]")]
    [InlineData("""{"inputs": [{"name": "image", "shape": [1, 3, 8, 8], "datatype": "FP32", "data": [1, 2]}]}""", HttpStatusCode.BadRequest, "needs 192")]
    [InlineData("""{"inputs": [{"name": "pixels", "shape": [1, 3, 8, 8], "datatype": "FP32", "data": [1]}]}""", HttpStatusCode.BadRequest, "send 'image'")]
    [InlineData("""{"inputs": [{"name": "image", "shape": [1, 3, 8, 8], "datatype": "INT64", "data": [1]}]}""", HttpStatusCode.BadRequest, "datatype 'INT64'")]
    [InlineData("""{"inputs": [{"name": "image", "shape": [1, 3, 8, 8], "datatype": "FP32", "data": ["a"]}]}""", HttpStatusCode.BadRequest, "must hold FP32 numbers")]
    [InlineData("""{"inputs": [{"name": "img", "shape": [1], "datatype": "BYTES", "data": ["aGVsbG8="]}]}""", HttpStatusCode.UnsupportedMediaType, "not a supported image format")]
    [InlineData("""{"inputs": [{"name": "img", "shape": [2], "datatype": "BYTES", "data": ["aGVsbG8="]}]}""", HttpStatusCode.BadRequest, "send as many base64-encoded images as the shape says")]
    [InlineData("""{"inputs": [{"name": "image", "shape": [1, 3, 8, 8], "datatype": "FP32", "data": [1]}], "outputs": [{"name": "logits"}]}""", HttpStatusCode.BadRequest, "Output 'logits' does not exist")]
    [InlineData("""{"inputs": """, HttpStatusCode.BadRequest, "The JSON body is not valid")]
    public async Task Infer_BadRequests_AnswerWithAnErrorObject(string body, HttpStatusCode status, string message)
    {
        var (actual, json) = await Send(HttpMethod.Post, "/v2/models/tiny-cnn/infer", body);

        Assert.Equal(status, actual);
        Assert.Contains(message, json.GetProperty("error").GetString());
    }

    [Fact]
    public async Task Infer_UnknownModelOrVersion_Is404AndUnloadableModel503()
    {
        var body = $$"""{"inputs": [{"name": "image", "shape": [1, 3, 8, 8], "datatype": "FP32", "data": [{{Tensor(1, 1, 1)}}]}]}""";

        var (unknown, unknownJson) = await Send(HttpMethod.Post, "/v2/models/ghost/infer", body);
        var (badVersion, _) = await Send(HttpMethod.Post, "/v2/models/tiny-cnn/versions/42/infer", body);
        var (broken, brokenJson) = await Send(HttpMethod.Post, "/v2/models/broken/infer", body);

        Assert.Equal(HttpStatusCode.NotFound, unknown);
        Assert.Contains("ghost", unknownJson.GetProperty("error").GetString());
        Assert.Equal(HttpStatusCode.NotFound, badVersion);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, broken);
        Assert.Contains("could not be loaded", brokenJson.GetProperty("error").GetString());
    }
}

using System.Net.Http.Headers;
using System.Net;
using System.Text.Json;
using FunctionApp.Cli;
using FunctionApp.Tests.Support;
using SkiaSharp;

namespace FunctionApp.Tests.Api;

/// <summary>
/// The confidence floor: a manifest's <c>minScore</c>, or <c>?minScore=</c> for one request. An answer whose top score
/// is below it says <c>"lowConfidence": true</c>; any other answer leaves the field out. The tiny CNN gives a pure red
/// image about 0.96 for red, and red-and-blue halves about 0.47 for each.
/// </summary>
[Trait("Category", "EndToEnd")]
public class ConfidenceFloorTests : IDisposable
{
    private readonly ModelRoot _models = new();

    public ConfidenceFloorTests()
    {
        // Version 3 of tiny-cnn carries a floor of 0.9 in its manifest.
        var v3 = TinyCnn.WritePackage(Path.Combine(_models.Root, "tiny-cnn", "3"));
        var manifest = Path.Combine(v3, "model.json");
        File.WriteAllText(manifest, File.ReadAllText(manifest).Replace("\"version\": \"1\"", "\"version\": \"3\", \"minScore\": 0.9", StringComparison.Ordinal));
    }

    public void Dispose()
    {
        _models.Dispose();
        GC.SuppressFinalize(this);
    }

    private static byte[] Halves => Images.Halves(16, 16, SKColors.Red, SKColors.Blue);

    private static async Task<(HttpStatusCode Status, JsonElement Json)> PostAsync(RunningServer server, string query, params byte[][] images)
    {
        using var form = new MultipartFormDataContent();
        for (int i = 0; i < images.Length; i++)
        {
            var part = new ByteArrayContent(images[i]);
            part.Headers.ContentType = new MediaTypeHeaderValue("image/png");
            form.Add(part, $"f{i}", $"image{i}.png");
        }

        using var response = await server.Client.PostAsync("/api/predict?" + query, form);
        return (response.StatusCode, JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.Clone());
    }

    private static bool? Low(JsonElement answer, int image) =>
        answer.GetProperty("images")[image].TryGetProperty("lowConfidence", out var low) ? low.GetBoolean() : null;

    [Fact]
    public async Task Predict_QueryFloor_MarksOnlyTheImagesBelowIt()
    {
        await using var server = await RunningServer.StartAsync(_models.Settings());

        var (status, answer) = await PostAsync(server, "version=2&minScore=0.9", Images.Solid(16, 16, SKColors.Red), Halves);
        var (_, lowFloor) = await PostAsync(server, "version=2&minScore=0.1", Halves);
        var (_, none) = await PostAsync(server, "version=2", Halves);

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal((null, true), (Low(answer, 0), Low(answer, 1)));
        Assert.Null(Low(lowFloor, 0));
        Assert.Null(Low(none, 0));
    }

    [Fact]
    public async Task Predict_ManifestFloor_AppliesUnlessTheRequestSetsAnother()
    {
        await using var server = await RunningServer.StartAsync(_models.Settings());

        var (_, byManifest) = await PostAsync(server, "version=3", Halves);
        var (_, overridden) = await PostAsync(server, "version=3&minScore=0", Halves);

        Assert.True(Low(byManifest, 0));
        Assert.Null(Low(overridden, 0));
    }

    [Theory]
    [InlineData("1.5")]
    [InlineData("high")]
    public async Task Predict_FloorOutsideZeroToOne_IsABadRequestSayingWhy(string value)
    {
        await using var server = await RunningServer.StartAsync(_models.Settings());

        var (status, problem) = await PostAsync(server, "minScore=" + value, Halves);

        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal($"'minScore' must be a number from 0 to 1 (got '{value}').", problem.GetProperty("detail").GetString());
    }

    [Fact]
    public async Task PredictVerb_BelowTheFloor_MarksTheRowAndSaysWhatItMeans()
    {
        var file = Path.Combine(_models.Root, "..", "halves.png");
        await File.WriteAllBytesAsync(file, Halves);
        using var output = new StringWriter();
        using var error = new StringWriter();

        int exit = await CommandLineApp.RunAsync(["predict", file, "--model", Path.Combine(_models.Root, "tiny-cnn", "3"), "--top", "2"], output, error);
        using var json = new StringWriter();
        await CommandLineApp.RunAsync(["predict", file, "--model", Path.Combine(_models.Root, "tiny-cnn", "1"), "--min-score", "0.95", "--json"], json, error);

        Assert.True(exit == 0, error.ToString());
        Assert.Contains("(low confidence)", output.ToString().Split('\n').Single(l => l.Contains("halves.png", StringComparison.Ordinal)), StringComparison.Ordinal);
        Assert.Contains("Low confidence: the top score is below the model's confidence floor (minScore)", output.ToString(), StringComparison.Ordinal);
        Assert.True(JsonDocument.Parse(json.ToString()).RootElement.GetProperty("images")[0].GetProperty("lowConfidence").GetBoolean());
    }
}

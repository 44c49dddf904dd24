using System.Net.Http.Headers;
using System.Net;
using System.Text.Json;
using FunctionApp.Tests.Support;

namespace FunctionApp.Tests.Integration;

/// <summary><c>serve</c> with the bundled model under concurrent load: every answer must be the right class.</summary>
[Trait("Category", "EndToEnd")]
public class DefaultModelServerTests
{
    [Fact]
    public async Task Predict_FortyConcurrentRequestsOnTheBundledModel_AllCorrect()
    {
        await using var server = await RunningServer.StartAsync(new Dictionary<string, string?>());
        string[] classes = ["trouser", "bag", "sneaker", "ankle-boot"];
        var files = classes.SelectMany(c => Directory.GetFiles(Images.TestData("fashion", c)).Order(StringComparer.Ordinal).Take(4).Select(f => (Label: c, File: f))).ToList();
        // Classes the model gets right on these files when asked one at a time.
        var expected = new Dictionary<string, string>();
        foreach (var (label, file) in files)
            expected[file] = await Classify(server.Client, file);
        Assert.True(files.Count(f => expected[f.File] == f.Label) >= 14, "the bundled model should recognise these distinctive classes");

        var answers = await Task.WhenAll(Enumerable.Range(0, 40).Select(async i =>
        {
            var file = files[i % files.Count].File;
            return (file, label: await Classify(server.Client, file));
        }));

        Assert.All(answers, a => Assert.Equal(expected[a.file], a.label));
    }

    private static async Task<string> Classify(HttpClient client, string file)
    {
        using var content = new ByteArrayContent(await File.ReadAllBytesAsync(file));
        content.Headers.ContentType = new MediaTypeHeaderValue("image/png");
        using var response = await client.PostAsync("/api/predict?top=1", content);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        return json.RootElement.GetProperty("images")[0].GetProperty("top")[0].GetProperty("label").GetString()!;
    }
}

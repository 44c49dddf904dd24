using System.Text.Json;
using System.Text;
using FunctionApp.Api.OpenInference;
using FunctionApp.Functions;
using FunctionApp.Tests.Support;
using Microsoft.Extensions.DependencyInjection;
using SkiaSharp;

namespace FunctionApp.Tests.Functions;

/// <summary>The v2 function classes called directly with real ASP.NET Core request objects.</summary>
public sealed class OpenInferenceFunctionsTests : IDisposable
{
    private readonly ModelRoot _models = new();
    private readonly ServiceProvider _services;
    private readonly OpenInferenceFunctions _functions;

    public OpenInferenceFunctionsTests()
    {
        _services = TestServices.Create(_models.Settings());
        _functions = new OpenInferenceFunctions(_services.GetRequiredService<OpenInferenceApi>());
    }

    public void Dispose()
    {
        _services.Dispose();
        _models.Dispose();
    }

    [Fact]
    public async Task Infer_BytesImage_ReturnsProbabilitiesForTheNewestVersion()
    {
        var body = Encoding.UTF8.GetBytes($$"""{"inputs": [{"name": "image", "shape": [1], "datatype": "BYTES", "data": ["{{Convert.ToBase64String(Images.Solid(8, 8, SKColors.Blue))}}"]}]}""");
        var request = FunctionInvoker.Request(_services, "POST", "application/json", body);

        var response = await FunctionInvoker.Execute(request, await _functions.Infer(request, "tiny-cnn", CancellationToken.None));

        Assert.Equal(200, response.Status);
        var json = JsonDocument.Parse(response.Body).RootElement;
        Assert.Equal("2", json.GetProperty("model_version").GetString());
        var data = json.GetProperty("outputs")[0].GetProperty("data").EnumerateArray().Select(d => d.GetSingle()).ToArray();
        Assert.Equal(0, Array.IndexOf(data, data.Max()));
    }

    [Fact]
    public async Task VersionInfer_UnknownVersion_Is404ErrorObject()
    {
        var request = FunctionInvoker.Request(_services, "POST", "application/json", "{}"u8.ToArray());

        var response = await FunctionInvoker.Execute(request, await _functions.VersionInfer(request, "tiny-cnn", "5", CancellationToken.None));

        Assert.Equal(404, response.Status);
        Assert.Contains("has no version '5'", JsonDocument.Parse(response.Body).RootElement.GetProperty("error").GetString());
    }

    [Fact]
    public async Task ModelReady_LoadsTheModel()
    {
        var request = FunctionInvoker.Request(_services, "GET");

        var response = await FunctionInvoker.Execute(request, await _functions.ModelVersionReady(request, "tiny-cnn", "1", CancellationToken.None));

        Assert.Equal(200, response.Status);
        Assert.True(JsonDocument.Parse(response.Body).RootElement.GetProperty("ready").GetBoolean());
    }
}

using System.Net.Http.Headers;
using System.Text.Json;
using FunctionApp.Hosting;
using FunctionApp.Models;
using FunctionApp.Tests.Support;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using SkiaSharp;

namespace FunctionApp.Tests.Hosting;

/// <summary>
/// <c>Models:Default</c> unset: a models root with one model makes it the default; with several, both hosts refuse to
/// start, naming the setting and the models found; the command line says the same when it needs a default.
/// </summary>
[Trait("Category", "EndToEnd")]
public class DefaultModelSettingTests : IDisposable
{
    private const string Several = "Models:Default is not set, and the models root";
    private readonly ModelRoot _models = new(); // tiny-cnn and broken
    private readonly TempDirectory _temp = new();

    public void Dispose()
    {
        _models.Dispose();
        _temp.Dispose();
        GC.SuppressFinalize(this);
    }

    private static Dictionary<string, string?> Unset(string root) => new() { ["Models:Root"] = root, ["OnnxRuntime:IntraOpThreads"] = "1" };

    private string RootWithOnlyTinyCnn()
    {
        var root = _temp.Sub("one");
        TinyCnn.WritePackage(Path.Combine(root, "tiny-cnn", "1"));
        return root;
    }

    [Fact]
    public async Task Serve_SeveralModelsAndNoDefault_FailsAtStartNamingTheSettingAndTheModels()
    {
        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => RunningServer.StartAsync(Unset(_models.Root)));

        Assert.Contains($"{Several} {_models.Root} holds 2 models: broken, tiny-cnn. Set Models:Default", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task FunctionsHost_SeveralModelsAndNoDefault_FailsAtStart()
    {
        // Where the Functions host would listen (nothing does: the start stops before connecting).
        int port = Azurite.FreePort();
        using var host = FunctionsWorkerHost.Build(["--Functions:Worker:HostEndpoint", $"http://127.0.0.1:{port}", "--Functions:Worker:WorkerId", "w1", "--Functions:Worker:RequestId", "r1", "--Models:Root", _models.Root]);

        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync());

        Assert.Contains($"{Several} {_models.Root} holds 2 models: broken, tiny-cnn.", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Serve_OneModelAndNoDefault_ServesItAsTheDefault()
    {
        await using var server = await RunningServer.StartAsync(Unset(RootWithOnlyTinyCnn()));
        using var content = new ByteArrayContent(Images.Solid(8, 8, SKColors.Red));
        content.Headers.ContentType = new MediaTypeHeaderValue("image/png");

        using var predict = await server.Client.PostAsync("/api/predict?top=1", content);
        using var ready = await server.Client.GetAsync("/api/health/ready");
        using var models = await server.Client.GetAsync("/api/models");

        var answer = JsonDocument.Parse(await predict.Content.ReadAsStringAsync()).RootElement;
        Assert.Equal(("tiny-cnn", "red"), (answer.GetProperty("model").GetString(), answer.GetProperty("images")[0].GetProperty("top")[0].GetProperty("label").GetString()));
        Assert.Equal(System.Net.HttpStatusCode.OK, ready.StatusCode);
        Assert.Equal("tiny-cnn", JsonDocument.Parse(await models.Content.ReadAsStringAsync()).RootElement.GetProperty("defaultModel").GetString());
    }

    [Fact]
    public void Catalog_BundledModelsRootAndNoDefault_DefaultsToTheBundledModel()
    {
        using var services = TestServices.Create();

        Assert.Null(services.GetRequiredService<IOptions<ModelsOptions>>().Value.Default);
        Assert.Equal("fashion-resnet18", services.GetRequiredService<ModelCatalog>().DefaultModel);
    }

    [Fact]
    public void Catalog_SeveralModelsAndNoDefault_AnUnnamedRequestSaysWhatToDo()
    {
        var catalog = new ModelCatalog(Options.Create(new ModelsOptions { Root = _models.Root }));

        var error = Assert.Throws<ModelNotFoundException>(() => catalog.Resolve());

        Assert.Equal("No model was named, and there is no default: Models:Default is not set and the models root holds 2 models (broken, tiny-cnn). Name one in the request, or set Models:Default.", error.Message);
        Assert.Equal("2", catalog.Resolve("tiny-cnn").Version);
    }

    [Fact]
    public async Task ServeCommand_SeveralModelsAndNoDefault_ExitsWithTheMessageNotAStackTrace()
    {
        var result = await AppProcess.RunAsync(["serve", "--urls", $"http://127.0.0.1:{Azurite.FreePort()}"], Unset(_models.Root));

        Assert.True(result.ExitCode == 1, result.ToString());
        Assert.Contains($"error: {Several} {_models.Root} holds 2 models: broken, tiny-cnn.", result.Error, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", result.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ModelsList_SeveralModelsAndNoDefault_ListsThemAndSaysThereIsNone()
    {
        var result = await AppProcess.RunAsync(["models", "list"], Unset(_models.Root));

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Contains("(default: none; set Models:Default)", result.Output, StringComparison.Ordinal);
        Assert.Contains("tiny-cnn", result.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Serve_DefaultModelNotInTheRoot_FailsAtStartNamingTheSetting()
    {
        var settings = Unset(RootWithOnlyTinyCnn());
        settings["Models:Default"] = "fashion-resnet18";

        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => RunningServer.StartAsync(settings));

        Assert.Contains("Models:Default is 'fashion-resnet18', but the models root", error.Message, StringComparison.Ordinal);
        Assert.Contains("holds no such model (models found: tiny-cnn)", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Serve_CanaryNamingAVersionThatDoesNotExist_FailsAtStartNamingTheSetting()
    {
        var settings = Unset(_models.Root);
        settings["Models:Default"] = "tiny-cnn";
        settings["Models:Canary:tiny-cnn:2"] = "90";
        settings["Models:Canary:tiny-cnn:7"] = "10";

        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => RunningServer.StartAsync(settings));

        Assert.Contains("Models:Canary:tiny-cnn:7 names version '7' of model 'tiny-cnn', which the models root does not hold (versions found: 1, 2).", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("Models:Canary:tiny-cnn:2 ", error.Message, StringComparison.Ordinal);
    }
}

using FunctionApp.Classification;
using FunctionApp.Hosting;
using FunctionApp.Inference;
using FunctionApp.Models;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace FunctionApp.Tests.Hosting;

public class FunctionsWorkerHostTests
{
    [Fact]
    public async Task Build_WithHostArguments_RegistersTheInferenceServicesWithoutLoadingAModel()
    {
        // The arguments the Functions host passes when it launches the worker.
        using var host = FunctionsWorkerHost.Build(["--host", "127.0.0.1", "--port", "50051", "--workerId", "w1", "--requestId", "r1", "--grpcMaxMessageLength", "2147483647"]);

        var classifier = host.Services.GetRequiredService<ImageClassifier>();
        var registry = host.Services.GetRequiredService<EnginePoolRegistry>();
        var models = host.Services.GetRequiredService<IOptions<ModelsOptions>>().Value;

        Assert.NotNull(classifier);
        Assert.Empty(registry.Pools);
        Assert.Null(models.Default); // unset: the bundled models root's only model is the default
        Assert.Equal("fashion-resnet18", host.Services.GetRequiredService<ModelCatalog>().DefaultModel);
        await Task.CompletedTask;
    }
}

using FunctionApp.Hosting;
using FunctionApp.Inference;
using FunctionApp.Models;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace FunctionApp.Tests.Hosting;

public class FunctionsWorkerHostTests
{
    [Fact]
    public void Build_WithHostArguments_RegistersTheInferenceServicesWithoutLoadingAModel()
    {
        // The arguments the Functions host passes when it launches the worker.
        using var host = FunctionsWorkerHost.Build(["--host", "127.0.0.1", "--port", "50051", "--workerId", "w1", "--requestId", "r1", "--grpcMaxMessageLength", "2147483647"]);

        var registry = host.Services.GetRequiredService<EnginePoolRegistry>();
        var models = host.Services.GetRequiredService<IOptions<ModelsOptions>>().Value;

        Assert.Empty(registry.Pools);
        Assert.Null(models.Default); // unset: the bundled models root's only model is the default
        Assert.Equal("fashion-resnet18", host.Services.GetRequiredService<ModelCatalog>().DefaultModel);
    }

    [Fact]
    public void Compose_LeavesTheDataProtectionKeyRingToItsFirstUse()
    {
        // ASP.NET Core integration registers MVC and with it data protection; its hosted service would load (or create
        // and write) a key ring at every start, for keys nothing in the app uses.
        var services = FunctionsWorkerHost.Compose(["--host", "127.0.0.1", "--port", "50051", "--workerId", "w1", "--requestId", "r1", "--grpcMaxMessageLength", "2147483647"]).Services;

        Assert.Contains(services, d => d.ServiceType.FullName == "Microsoft.AspNetCore.DataProtection.IDataProtectionProvider");
        Assert.DoesNotContain(services, d => d.ServiceType == typeof(IHostedService) && d.ImplementationType?.Name == "DataProtectionHostedService");
        Assert.Contains(services, d => d.ServiceType == typeof(IHostedService) && d.ImplementationType == typeof(FunctionApp.Classification.ModelWarmUpService));
    }
}

using FunctionApp.Classification;
using FunctionApp.Hosting;
using FunctionApp.Models;
using FunctionApp.Storage;
using FunctionApp.Triggers;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace FunctionApp.Tests.Architecture;

/// <summary>Each host's composition root registers every service of the app once, and every hosted service once.</summary>
public sealed class CompositionTests
{
    private static readonly System.Reflection.Assembly App = typeof(Program).Assembly;

    private static readonly string[] WorkerArguments = ["--host", "127.0.0.1", "--port", "50051", "--workerId", "w1", "--requestId", "r1", "--grpcMaxMessageLength", "2147483647", "--Functions:Worker:HostEndpoint", "http://127.0.0.1:50051"];

    public static TheoryData<string> Hosts() => new("worker", "serve");

    private static IServiceCollection Registrations(string host)
    {
        if (host == "worker")
            return FunctionsWorkerHost.Compose(WorkerArguments).Services;
        IServiceCollection? services = null;
        using var app = SelfHostedServer.Build([], "http://127.0.0.1:0", builder => services = builder.Services);
        return services!;
    }

    [Theory]
    [MemberData(nameof(Hosts))]
    public void Every_app_service_is_registered_once(string host)
    {
        var services = Registrations(host);

        var twice = services
            .Where(d => d.ServiceType.Assembly == App && !d.ServiceType.IsInterface)
            .GroupBy(d => d.ServiceType)
            .Where(g => g.Count() > 1)
            .Select(g => $"{g.Key.Name} x{g.Count()}")
            .ToList();

        Assert.Empty(twice);
        Assert.Contains(services, d => d.ServiceType == typeof(FunctionApp.Classification.ImageClassifier));
    }

    [Theory]
    [MemberData(nameof(Hosts))]
    public void Every_hosted_service_of_the_app_runs_once(string host)
    {
        using var built = host == "worker" ? FunctionsWorkerHost.Build(WorkerArguments) : (IHost)SelfHostedServer.Build([], "http://127.0.0.1:0");

        var hosted = built.Services.GetServices<IHostedService>().Select(s => s.GetType()).Where(t => t.Assembly == App).ToList();

        Assert.Equal(hosted.Distinct().Count(), hosted.Count);
        Assert.Contains(typeof(FunctionApp.Storage.StorageProvisioner), hosted);
        Assert.Contains(typeof(FunctionApp.Models.ModelRefreshService), hosted);
        Assert.Contains(typeof(FunctionApp.Triggers.InputSweeper), hosted);
    }
}

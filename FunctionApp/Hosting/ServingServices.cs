using FunctionApp.Api;
using FunctionApp.Batch;
using FunctionApp.Blobs;
using FunctionApp.Chains;
using FunctionApp.Classification;
using FunctionApp.Imaging;
using FunctionApp.Inference;
using FunctionApp.Models;
using FunctionApp.Storage;
using FunctionApp.Triggers;
using Microsoft.Extensions.DependencyInjection;

namespace FunctionApp.Hosting;

/// <summary>
/// The services both serving hosts (the Functions worker and <c>serve</c>) are made of, from the bottom layer up;
/// each host's composition root adds these once, then what is its own (its protocol plumbing, triggers, telemetry).
/// </summary>
public static class ServingServices
{
    public static IServiceCollection AddServing(this IServiceCollection services)
    {
        services.AddSingleton(TimeProvider.System);
        services.AddImaging();
        services.AddModelExecution();
        services.AddModelCatalog();
        services.AddDefaultModelValidation();
        services.AddStorage();
        services.AddModelRefresh();
        services.AddClassification();
        services.AddReadiness();
        services.AddImageBlobs();
        services.AddBatchJobs();
        services.AddSliceChains();
        services.AddTriggerSupport();
        services.AddHttpApi();
        services.AddHostedService<MemoryTrimmer>();
        return services;
    }
}

using Microsoft.Extensions.DependencyInjection;

namespace FunctionApp.Batch;

public static class BatchServiceCollectionExtensions
{
    /// <summary>Batch jobs (archives and manifests fanned out in chunks), with the batch settings validated at start.</summary>
    public static IServiceCollection AddBatchJobs(this IServiceCollection services)
    {
        services.AddOptions<BatchOptions>().BindConfiguration(BatchOptions.SectionName).ValidateDataAnnotations().ValidateOnStart();
        services.AddSingleton<InstanceIdentity>();
        services.AddSingleton<BatchSources>();
        services.AddSingleton<BatchJobProcessor>();
        return services;
    }
}

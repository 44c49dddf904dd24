using Microsoft.Extensions.DependencyInjection;

namespace FunctionApp.Blobs;

public static class BlobsServiceCollectionExtensions
{
    /// <summary>The image blob flow: one image in, one current outcome (prediction or failure record) out.</summary>
    public static IServiceCollection AddImageBlobs(this IServiceCollection services)
    {
        services.AddSingleton<ImageBlobProcessor>();
        return services;
    }
}

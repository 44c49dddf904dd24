using Microsoft.Extensions.DependencyInjection;

namespace FunctionApp.Imaging;

public static class ImagingServiceCollectionExtensions
{
    /// <summary>Decoding and preprocessing: the image limits (validated at start), the decoder and the decode budget.</summary>
    public static IServiceCollection AddImaging(this IServiceCollection services)
    {
        services.AddOptions<ImageLimitsOptions>().BindConfiguration(ImageLimitsOptions.SectionName).ValidateDataAnnotations().ValidateOnStart();
        services.AddOptions<PreprocessingOutputOptions>().BindConfiguration(PreprocessingOutputOptions.SectionName).ValidateDataAnnotations().ValidateOnStart();
        services.AddSingleton<ImageDecoder>();
        services.AddSingleton<DecodeBudget>();
        services.AddSingleton<ImagePreprocessor>();
        return services;
    }
}

using Microsoft.Extensions.DependencyInjection;

namespace FunctionApp.Chains;

public static class ChainsServiceCollectionExtensions
{
    /// <summary>Slice chains: a sliced model run one slice per queue step, the tensors in between kept in storage.</summary>
    public static IServiceCollection AddSliceChains(this IServiceCollection services)
    {
        services.AddSingleton<SliceChain>();
        return services;
    }
}

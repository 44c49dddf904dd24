using Microsoft.Extensions.DependencyInjection;

namespace FunctionApp.Triggers;

public static class TriggersServiceCollectionExtensions
{
    /// <summary>
    /// What every trigger host shares: the poison handling that concludes an input after its last try, and the sweep
    /// that takes up inputs a trigger missed.
    /// </summary>
    public static IServiceCollection AddTriggerSupport(this IServiceCollection services)
    {
        services.AddSingleton<TriggerPoison>();
        services.AddSingleton<InputSweeper>();
        services.AddHostedService(sp => sp.GetRequiredService<InputSweeper>());
        return services;
    }
}

using FunctionApp.Inference;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Options;

namespace FunctionApp.Models;

/// <summary>
/// Starts loading the default model as a process's first step, when its settings ask for an eager warm-up and the
/// models are local: the settings are bound the way the host binds them, the default model and its newest version
/// are found the way the catalog finds them, and <see cref="PipelinePreload"/> does the rest on another thread. Any
/// doubt (a canary split, blob-sourced models, an unreadable package) means no preload: the host then loads the model
/// as it always does, and reports any problem itself.
/// </summary>
public static class ModelPreload
{
    /// <summary>Looks for the default model and starts its preload on the thread pool; the task ends once the load has begun (or was ruled out).</summary>
    public static Task Start(IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        return Task.Run(() =>
        {
            try
            {
                StartCore(configuration);
            }
            catch (Exception ex) when (ex is ModelPackageException or ModelNotFoundException or InvalidOperationException or IOException or UnauthorizedAccessException or FormatException)
            {
                // No preload; the host's own load meets the same problem and reports it.
            }
        });
    }

    private static void StartCore(IConfiguration configuration)
    {
        var models = new ModelsOptions();
        configuration.GetSection(ModelsOptions.SectionName).Bind(models);
        if (models.WarmUp != ModelWarmUp.Eager || models.Source != ModelSource.Local)
            return;

        PipelinePreload.StartRuntime();

        // The catalog's own rules pick the model and version, as the host's catalog will.
        var catalog = new ModelCatalog(Options.Create(models));
        if (catalog.DefaultModel is not { } name || models.Canary.ContainsKey(name))
            return;
        var package = catalog.Package(catalog.Resolve(name));

        var engines = new EnginePoolOptions();
        configuration.GetSection(EnginePoolOptions.SectionName).Bind(engines);
        var runtime = new OnnxRuntimeOptions();
        configuration.GetSection(OnnxRuntimeOptions.SectionName).Bind(runtime);
        MatchThreadsToEngines.Apply(runtime, engines);
        PipelinePreload.Start(package, runtime);
    }
}

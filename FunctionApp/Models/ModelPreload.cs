using FunctionApp.Inference;
using Microsoft.Extensions.Configuration;

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
            catch (Exception ex) when (ex is ModelPackageException or InvalidOperationException or IOException or UnauthorizedAccessException or FormatException)
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
        var root = models.ResolvedRoot;
        if (!Directory.Exists(root))
            return;
        var name = !string.IsNullOrWhiteSpace(models.Default) ? models.Default
            : ModelCatalog.ModelNames(root) is [var only] ? only
            : null;
        if (name is null || models.Canary.ContainsKey(name) || !Directory.Exists(Path.Combine(root, name)))
            return;
        var version = Directory.EnumerateDirectories(Path.Combine(root, name))
            .Where(v => File.Exists(Path.Combine(v, ModelManifest.FileName)))
            .Select(Path.GetFileName)
            .OfType<string>()
            .OrderByDescending(v => v, VersionComparer.Instance)
            .FirstOrDefault();
        if (version is null)
            return;

        var engines = new EnginePoolOptions();
        configuration.GetSection(EnginePoolOptions.SectionName).Bind(engines);
        var runtime = new OnnxRuntimeOptions();
        configuration.GetSection(OnnxRuntimeOptions.SectionName).Bind(runtime);
        MatchThreadsToEngines.Apply(runtime, engines);
        PipelinePreload.Start(ModelPackage.Open(Path.Combine(root, name, version), PackageUse.Classifier, servedVersion: version), runtime);
    }
}

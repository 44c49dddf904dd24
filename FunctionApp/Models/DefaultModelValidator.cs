using FunctionApp.Inference;
using Microsoft.Extensions.Options;

namespace FunctionApp.Models;

/// <summary>
/// The model settings that must hold at start, each failure naming its setting:
/// <list type="bullet">
/// <item>A host that answers requests naming no model needs one default: with <c>Models:Default</c> unset, the models
/// root must hold one model (which then is the default) or none yet.</item>
/// <item>A <c>Models:Default</c> that is set must be a model in the models root (local packages only: a blob
/// repository's cache fills after start).</item>
/// <item>Every version a canary split (<c>Models:Canary:{name}:{version}</c>) names must exist there, with a weight
/// from 0 to 100, and the weights of a model must not all be 0.</item>
/// </list>
/// </summary>
public sealed class DefaultModelValidator : IValidateOptions<ModelsOptions>
{
    public ValidateOptionsResult Validate(string? name, ModelsOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var models = ModelCatalog.ModelNames(options.ResolvedRoot);
        var problems = new List<string>();
        if (string.IsNullOrWhiteSpace(options.Default))
        {
            if (models.Count > 1)
            {
                problems.Add(
                    $"Models:Default is not set, and the models root {options.ResolvedRoot} holds {models.Count} models: {string.Join(", ", models)}. " +
                    "Set Models:Default (environment variable Models__Default) to the model that requests naming none should get.");
            }
        }
        else if (options.Source == ModelSource.Local && !models.Contains(options.Default))
        {
            problems.Add($"Models:Default is '{options.Default}', but the models root {options.ResolvedRoot} holds no such model (models found: {Found(models)}).");
        }

        foreach (var (model, split) in options.Canary)
        {
            foreach (var (version, weight) in split)
            {
                if (weight is < 0 or > 100)
                    problems.Add($"Models:Canary:{model}:{version} is {weight}; a canary weight is from 0 to 100.");
                if (options.Source == ModelSource.Local && !File.Exists(Path.Combine(options.ResolvedRoot, model, version, ModelManifest.FileName)))
                    problems.Add($"Models:Canary:{model}:{version} names version '{version}' of model '{model}', which the models root does not hold (versions found: {Found(Versions(options.ResolvedRoot, model))}).");
            }

            if (split.Count > 0 && split.Values.All(w => w <= 0))
                problems.Add($"Models:Canary:{model} gives every version a weight of 0; give at least one a positive weight, or remove the split.");
        }

        return problems.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(problems);
    }

    private static string Found(IReadOnlyList<string> names) => names.Count == 0 ? "none" : string.Join(", ", names);

    private static List<string> Versions(string root, string model)
    {
        var folder = Path.Combine(root, model);
        return !Directory.Exists(folder) ? [] : [.. Directory.EnumerateDirectories(folder)
            .Where(v => File.Exists(Path.Combine(v, ModelManifest.FileName)))
            .Select(v => Path.GetFileName(v))
            .Order(VersionComparer.Instance)];
    }
}

using Microsoft.Extensions.Options;

namespace FunctionApp.Inference;

/// <summary>
/// A host that answers requests naming no model needs one default: with <c>Models:Default</c> unset, the models root
/// must hold one model (which then is the default) or none yet. With several there, the host refuses to start and
/// says which setting to give and which models it found.
/// </summary>
public sealed class DefaultModelValidator : IValidateOptions<ModelsOptions>
{
    public ValidateOptionsResult Validate(string? name, ModelsOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (!string.IsNullOrWhiteSpace(options.Default))
            return ValidateOptionsResult.Success;
        var models = ModelCatalog.ModelNames(options.ResolvedRoot);
        return models.Count <= 1
            ? ValidateOptionsResult.Success
            : ValidateOptionsResult.Fail(
                $"Models:Default is not set, and the models root {options.ResolvedRoot} holds {models.Count} models: {string.Join(", ", models)}. " +
                "Set Models:Default (environment variable Models__Default) to the model that requests naming none should get.");
    }
}

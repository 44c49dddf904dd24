using System.ComponentModel.DataAnnotations;

namespace FunctionApp.Imaging;

/// <summary>
/// What the blob flow writes besides predictions (configuration section <c>Preprocessing</c>). How an image is
/// resized, cropped, normalised or turned to grayscale for a model is the model's manifest
/// (<see cref="PreprocessingSpec"/>), and the HTTP and blob paths share that one implementation.
/// </summary>
public sealed class PreprocessingOutputOptions : IValidatableObject
{
    public const string SectionName = "Preprocessing";

    /// <summary>Whether to store the image as the model sees it (resized, cropped) as PNG under <c>preprocessed/</c>.</summary>
    public bool WritePreprocessed { get; set; } = true;

    /// <summary>Longer-side sizes of extra PNG thumbnails, written to <c>preprocessed/thumbnails/{size}/{name}</c>.</summary>
    public IList<int> Thumbnails { get; } = [];

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (Thumbnails.Any(t => t is < 8 or > 4096))
            yield return new ValidationResult("Preprocessing:Thumbnails sizes must be between 8 and 4096 pixels.", [nameof(Thumbnails)]);
    }
}

using System.ComponentModel.DataAnnotations;

namespace FunctionApp.Storage;

/// <summary>Blob storage for the drop-a-file flow (configuration section <c>Storage</c>).</summary>
public sealed class StorageOptions
{
    public const string SectionName = "Storage";

    // The container names are part of the product's contract: the blob triggers name them too.
    public const string ImagesContainer = "images";
    public const string PredictionsContainer = "predictions";
    public const string PreprocessedContainer = "preprocessed";
    public const string FailedContainer = "images-failed";
    public const string BatchesContainer = "batches";
    public const string ModelsContainer = "models";
    public const string ChainsContainer = "chains";
    public const string ChainImagesContainer = "chain-images";
    public const string SliceStepsQueue = "slice-steps";

    /// <summary>
    /// The name of the connection setting, as the blob triggers use it: a connection string in
    /// <c>{name}</c> (locally <c>UseDevelopmentStorage=true</c> for Azurite), or identity-based settings
    /// <c>{name}__blobServiceUri</c> (and <c>{name}__clientId</c> for a user-assigned identity).
    /// </summary>
    [Required]
    public string Connection { get; set; } = "AzureWebJobsStorage";

    /// <summary>With <c>serve</c>: how often <c>images/</c> and <c>batches/</c> are scanned for new blobs.</summary>
    [Range(typeof(TimeSpan), "00:00:00.050", "01:00:00")]
    public TimeSpan PollInterval { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>With <c>serve</c>: whether to watch the containers when a connection is configured.</summary>
    public bool Watch { get; set; } = true;
}

using System.ComponentModel.DataAnnotations;

namespace FunctionApp.Storage;

/// <summary>The storage account the blob and queue flows use (configuration section <c>Storage</c>).</summary>
public sealed class StorageOptions
{
    public const string SectionName = "Storage";

    // Container and queue names are part of the product's contract: the triggers, the infra and the README name them.

    /// <summary>Inputs: images to classify one by one.</summary>
    public const string ImagesContainer = "images";

    /// <summary>One outcome per image in <see cref="ImagesContainer"/>: its prediction, or why it has none.</summary>
    public const string PredictionsContainer = "predictions";

    /// <summary>Each classified image as the model sees it, and its thumbnails.</summary>
    public const string PreprocessedContainer = "preprocessed";

    /// <summary>Thumbnails of each classified image, as <c>{size}/{name}</c>.</summary>
    public const string ThumbnailsContainer = "thumbnails";

    /// <summary>The originals of images that could not be classified, with the reason in their metadata.</summary>
    public const string FailedContainer = "images-failed";

    /// <summary>Inputs: batch jobs, as zip archives or JSON manifests.</summary>
    public const string BatchesContainer = "batches";

    /// <summary>Each batch job's progress, results and summary, under the batch blob's name.</summary>
    public const string BatchResultsContainer = "batch-results";

    /// <summary>Inputs: model packages published as <c>{name}/{version}/</c> (with <c>Models:Source=Blob</c>).</summary>
    public const string ModelsContainer = "models";

    /// <summary>Slice chains in flight: their state and the tensors passed between steps.</summary>
    public const string ChainsContainer = "chains";

    /// <summary>Inputs: images to classify with the sliced default model as a chain of steps.</summary>
    public const string ChainImagesContainer = "chain-images";

    /// <summary>One outcome per image in <see cref="ChainImagesContainer"/>.</summary>
    public const string ChainResultsContainer = "chain-results";

    /// <summary>The Functions host's (and the trigger engine's) own container: receipts and locks.</summary>
    public const string HostContainer = "azure-webjobs-hosts";

    /// <summary>Steps of slice chains.</summary>
    public const string SliceStepsQueue = "slice-steps";

    /// <summary>Steps that failed every try.</summary>
    public const string SliceStepsPoisonQueue = "slice-steps-poison";

    /// <summary>Chunks of batch jobs, for any instance to score.</summary>
    public const string BatchChunksQueue = "batch-chunks";

    /// <summary>Chunks that failed every try.</summary>
    public const string BatchChunksPoisonQueue = "batch-chunks-poison";

    /// <summary>Where the trigger engine parks a blob that failed every try (its name is fixed by the engine).</summary>
    public const string BlobPoisonQueue = "webjobs-blobtrigger-poison";

    /// <summary>
    /// The name of the connection setting, as the triggers use it: a connection string in <c>{name}</c> (locally
    /// <c>UseDevelopmentStorage=true</c> for Azurite), or identity-based settings <c>{name}__blobServiceUri</c> and
    /// <c>{name}__queueServiceUri</c> (and <c>{name}__clientId</c> for a user-assigned identity).
    /// </summary>
    [Required]
    public string Connection { get; set; } = "AzureWebJobsStorage";

    /// <summary>With <c>serve</c>: whether to run the blob and queue triggers when a connection is configured.</summary>
    public bool Watch { get; set; } = true;

    /// <summary>
    /// How long storage may be unreachable while background work (triggers, sweeps) waits for it with retries, before
    /// that work fails and is tried again by its trigger; <c>serve</c>'s triggers restart after a longer outage.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:01", "01:00:00")]
    public TimeSpan OutageTolerance { get; set; } = TimeSpan.FromMinutes(2);

    /// <summary>
    /// How often inputs without a current outcome, and jobs or chains that stopped moving, are looked for and taken
    /// up again (a trigger missed, an instance killed mid-work); zero turns it off.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:00", "1.00:00:00")]
    public TimeSpan SweepInterval { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>How long an input may wait for its trigger, or a job or chain go without progress, before a sweep takes it up.</summary>
    [Range(typeof(TimeSpan), "00:00:00.100", "1.00:00:00")]
    public TimeSpan SweepGrace { get; set; } = TimeSpan.FromSeconds(60);
}

namespace FunctionApp.Storage;

/// <summary>Every container and queue the app reads or writes: what provisioning creates and the infra declares.</summary>
public static class StorageLayout
{
    public static IReadOnlyList<string> Containers { get; } =
    [
        StorageOptions.ImagesContainer,
        StorageOptions.PredictionsContainer,
        StorageOptions.PreprocessedContainer,
        StorageOptions.ThumbnailsContainer,
        StorageOptions.FailedContainer,
        StorageOptions.BatchesContainer,
        StorageOptions.BatchResultsContainer,
        StorageOptions.ModelsContainer,
        StorageOptions.ChainsContainer,
        StorageOptions.ChainImagesContainer,
        StorageOptions.ChainResultsContainer,
        StorageOptions.HostContainer,
    ];

    public static IReadOnlyList<string> Queues { get; } =
    [
        StorageOptions.SliceStepsQueue,
        StorageOptions.SliceStepsPoisonQueue,
        StorageOptions.BatchChunksQueue,
        StorageOptions.BatchChunksPoisonQueue,
        StorageOptions.BlobPoisonQueue,
    ];
}

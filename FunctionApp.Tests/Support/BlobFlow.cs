using Azure.Storage.Blobs;
using FunctionApp.Batch;
using FunctionApp.Blobs;
using FunctionApp.Functions;
using FunctionApp.Storage;
using Microsoft.Extensions.DependencyInjection;

namespace FunctionApp.Tests.Support;

/// <summary>Azurite plus the app's services on the tiny CNN models: the blob flow with nothing faked.</summary>
public sealed class BlobFlow : IAsyncLifetime, IDisposable
{
    private readonly ModelRoot _models = new();

    public Azurite Azurite { get; } = new();

    public ServiceProvider Services { get; private set; } = null!;

    public BlobStorage Storage => Services.GetRequiredService<BlobStorage>();

    public ImageBlobProcessor Images => Services.GetRequiredService<ImageBlobProcessor>();

    public BatchJobProcessor Batches => Services.GetRequiredService<BatchJobProcessor>();

    /// <summary>Runs every queued batch chunk, as the queue trigger would.</summary>
    public Task<int> RunChunksAsync(BatchJobProcessor? batches = null) =>
        QueueDrain.RunAsync(Storage.Queue(StorageOptions.BatchChunksQueue), message => (batches ?? Batches).RunChunkAsync(FunctionApp.Functions.TriggerMessages.Parse<ChunkWork>(message), CancellationToken.None));

    public Dictionary<string, string?> Settings(Action<Dictionary<string, string?>>? change = null)
    {
        var settings = _models.Settings(maxImageBytes: 200_000);
        settings["AzureWebJobsStorage"] = Azurite.ConnectionString;
        change?.Invoke(settings);
        return settings;
    }

    public ServiceProvider CreateServices(Action<Dictionary<string, string?>>? change = null, Action<IServiceCollection>? configure = null) =>
        TestServices.Create(Settings(change), configure);

    public async Task InitializeAsync()
    {
        await Azurite.InitializeAsync();
        Services = CreateServices(s => s["Preprocessing:Thumbnails:0"] = "10");
        // What the hosts do at start: the app provisions the empty account it is given.
        await Services.GetRequiredService<StorageProvisioner>().ProvisionAsync(CancellationToken.None);
    }

    public async Task DisposeAsync()
    {
        await Services.DisposeAsync();
        await Azurite.DisposeAsync();
    }

    public void Dispose()
    {
        _models.Dispose();
        Azurite.Dispose();
    }

    public static async Task<string> ReadText(BlobContainerClient container, string name) =>
        (await container.GetBlobClient(name).DownloadContentAsync()).Value.Content.ToString();

    public static async Task<bool> Exists(BlobContainerClient container, string name) =>
        (await container.GetBlobClient(name).ExistsAsync()).Value;
}

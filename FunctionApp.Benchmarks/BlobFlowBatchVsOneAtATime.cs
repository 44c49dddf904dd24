using System.IO.Compression;
using Azure.Storage.Blobs.Models;
using BenchmarkDotNet.Attributes;
using FunctionApp.Batch;
using FunctionApp.Blobs;
using FunctionApp.Functions;
using FunctionApp.Hosting;
using FunctionApp.Storage;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace FunctionApp.Benchmarks;

/// <summary>
/// The blob flow end to end against Azurite on loopback: the same 200 JPEGs dropped one by one into
/// <c>images/</c> (each processed as its trigger would: read, classify, write its prediction) against one
/// 200-entry zip in <c>batches/</c>. Preprocessed-image output is off so both paths do the same work.
/// Needs Azurite from <c>npm ci</c> (node_modules/.bin/azurite-blob).
/// </summary>
[WarmupCount(1)]
[IterationCount(5)]
public class BlobFlowBatchVsOneAtATime
{
    private const int Images = 200;
    private LocalAzurite _azurite = null!;
    private ServiceProvider _services = null!;
    private BlobStorage _storage = null!;
    private byte[] _zip = null!;
    private int _iteration;

    [GlobalSetup]
    public void Setup()
    {
        _azurite = new LocalAzurite();

        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["AzureWebJobsStorage"] = _azurite.ConnectionString,
            ["Preprocessing:WritePreprocessed"] = "false",
            ["Models:Root"] = Path.Combine(AppContext.BaseDirectory, "models"),
        }).Build();
        var services = new ServiceCollection().AddSingleton<IConfiguration>(configuration).AddLogging();
        services.AddServing();
        _services = services.BuildServiceProvider();
        _storage = _services.GetRequiredService<BlobStorage>();
        _services.GetRequiredService<StorageProvisioner>().ProvisionAsync(CancellationToken.None).GetAwaiter().GetResult();

        var images = Enumerable.Range(0, Images).Select(i => BundledModel.PhotoJpeg(seed: i, width: 640, height: 480)).ToList();
        using var buffer = new MemoryStream();
        using (var zip = new ZipArchive(buffer, ZipArchiveMode.Create, leaveOpen: true))
        {
            for (int i = 0; i < Images; i++)
            {
                using var entry = zip.CreateEntry($"{i:D3}.jpg", CompressionLevel.NoCompression).Open();
                entry.Write(images[i]);
            }
        }

        _zip = buffer.ToArray();
        for (int i = 0; i < Images; i++)
            _storage.Images.GetBlobClient($"{i:D3}.jpg").Upload(new BinaryData(images[i]), overwrite: true);

        // Load the model before measuring either path.
        _services.GetRequiredService<ImageBlobProcessor>().ProcessAsync("000.jpg", CancellationToken.None).GetAwaiter().GetResult();
    }

    [IterationSetup]
    public void ClearResults()
    {
        foreach (var container in new[] { _storage.Predictions, _storage.BatchResults })
        {
            foreach (var blob in container.GetBlobs(BlobTraits.None, BlobStates.None, null, CancellationToken.None).ToList())
                container.DeleteBlob(blob.Name);
        }

        _storage.Batches.GetBlobClient($"run-{++_iteration}.zip").Upload(new BinaryData(_zip), overwrite: true);
    }

    [Benchmark(Baseline = true, Description = "200 image blobs, one at a time")]
    public async Task<int> OneAtATime()
    {
        var processor = _services.GetRequiredService<ImageBlobProcessor>();
        int processed = 0;
        for (int i = 0; i < Images; i++)
            processed += await processor.ProcessAsync($"{i:D3}.jpg", CancellationToken.None) == BlobOutcome.Processed ? 1 : 0;
        return processed != Images ? throw new InvalidOperationException($"only {processed} processed") : processed;
    }

    [Benchmark(Description = "one 200-image zip as a batch job")]
    public async Task<BlobOutcome> BatchJob()
    {
        // As one instance's triggers would: start the job, then score its chunks from the queue.
        var batches = _services.GetRequiredService<BatchJobProcessor>();
        var outcome = await batches.StartAsync($"run-{_iteration}.zip", CancellationToken.None);
        var queue = _storage.Queue(StorageOptions.BatchChunksQueue);
        while ((await queue.ReceiveMessagesAsync(maxMessages: 32)).Value is { Length: > 0 } messages)
        {
            foreach (var message in messages)
            {
                await batches.RunChunkAsync(Functions.TriggerMessages.Parse<ChunkWork>(message.Body.ToString()), CancellationToken.None);
                await queue.DeleteMessageAsync(message.MessageId, message.PopReceipt);
            }
        }

        return outcome != BlobOutcome.Processed ? throw new InvalidOperationException(outcome.ToString()) : outcome;
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _services.Dispose();
        _azurite.Dispose();
    }
}

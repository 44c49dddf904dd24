using BenchmarkDotNet.Attributes;
using FunctionApp.Classification;
using FunctionApp.Hosting;
using FunctionApp.Inference;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace FunctionApp.Benchmarks;

/// <summary>
/// 200 photo-like 640x480 JPEGs through the bundled model: one image at a time (as 200 separate requests or
/// blobs would go) against the batch path the blob jobs use (chunks of 32: parallel decode and preprocessing,
/// then batched scoring), with both ways of scoring a batch on a model whose batch size is fixed at 1.
/// Target: the batch path at least 1.3 times the images per second of one at a time.
/// </summary>
[WarmupCount(1)]
[IterationCount(6)]
public class BatchVsOneAtATime
{
    private const int Images = 200;
    private const int Chunk = 32;
    private List<NamedImage> _images = null!;
    private ServiceProvider _parallel = null!;
    private ServiceProvider _dataView = null!;
    private ModelEntry _entry = null!;

    [GlobalSetup]
    public void Setup()
    {
        _images = Enumerable.Range(0, Images).Select(i => new NamedImage($"{i}.jpg", BundledModel.PhotoJpeg(seed: i, width: 640, height: 480))).ToList();
        _parallel = Services(BatchScoring.ParallelEngines);
        _dataView = Services(BatchScoring.DataView);
        _entry = new ModelEntry("fashion-resnet18", "1", BundledModel.Directory);
        foreach (var services in new[] { _parallel, _dataView })
            services.GetRequiredService<ImageClassifier>().ClassifyBatchAsync(_images.Take(4).ToList(), _entry).GetAwaiter().GetResult();
    }

    private static ServiceProvider Services(BatchScoring scoring)
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["EnginePool:BatchScoring"] = scoring.ToString(),
        }).Build();
        var services = new ServiceCollection().AddSingleton<IConfiguration>(configuration).AddLogging();
        services.AddServing();
        return services.BuildServiceProvider();
    }

    [Benchmark(Baseline = true, Description = "One image at a time (200 calls)")]
    public async Task<int> OneAtATime()
    {
        var classifier = _parallel.GetRequiredService<ImageClassifier>();
        int red = 0;
        foreach (var image in _images)
            red += (await classifier.ClassifyAsync(image, _entry)).Images[0].Top![0].Index;
        return red;
    }

    [Benchmark(Description = "Batch path, single runs over pooled engines (default)")]
    public Task<int> BatchParallelEngines() => Batch(_parallel);

    [Benchmark(Description = "Batch path, one ML.NET IDataView per chunk")]
    public Task<int> BatchDataView() => Batch(_dataView);

    private async Task<int> Batch(ServiceProvider services)
    {
        var classifier = services.GetRequiredService<ImageClassifier>();
        int red = 0;
        foreach (var chunk in _images.Chunk(Chunk))
        {
            var result = await classifier.ClassifyBatchAsync(chunk, _entry);
            red += result.Images.Sum(i => i.Top![0].Index);
        }

        return red;
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _parallel.Dispose();
        _dataView.Dispose();
    }
}

using System.Diagnostics.Metrics;
using FunctionApp.Classification;
using FunctionApp.Imaging;
using FunctionApp.Inference;
using FunctionApp.Models;
using FunctionApp.Telemetry;
using FunctionApp.Tests.Support;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using SkiaSharp;

namespace FunctionApp.Tests.Telemetry;

/// <summary>The app's metrics as the real services record them, read from the service provider's own meter.</summary>
public sealed class InferenceMetricsTests : IDisposable
{
    private readonly ModelRoot _models = new();
    private readonly ServiceProvider _services;

    public InferenceMetricsTests() => _services = TestServices.Create(_models.Settings());

    public void Dispose()
    {
        _services.Dispose();
        _models.Dispose();
    }

    private MetricCollector<T> Collect<T>(string instrument)
        where T : struct => new(_services.GetRequiredService<IMeterFactory>(), InferenceMetrics.MeterName, instrument);

    private static void AssertVersion<T>(CollectedMeasurement<T> measurement, string model, string version)
        where T : struct
    {
        Assert.Equal(model, measurement.Tags["model"]);
        Assert.Equal(version, measurement.Tags["model.version"]);
    }

    [Fact]
    public async Task Classify_TwoImages_RecordsOneLoadAndEachImagesPreprocessingInferenceAndSuccess()
    {
        using var load = Collect<double>("inference.model.load.duration");
        using var preprocess = Collect<double>("inference.preprocess.duration");
        using var inference = Collect<double>("inference.duration");
        using var predictions = Collect<long>("inference.predictions");
        var classifier = _services.GetRequiredService<ImageClassifier>();

        await classifier.ClassifyAsync(new NamedImage("a.png", Images.Solid(8, 8, SKColors.Red)));
        await classifier.ClassifyAsync(new NamedImage("b.png", Images.Solid(8, 8, SKColors.Blue)));

        var loaded = Assert.Single(load.GetMeasurementSnapshot());
        AssertVersion(loaded, "tiny-cnn", "2");
        Assert.True(loaded.Value > 0);
        Assert.Equal(2, preprocess.GetMeasurementSnapshot().Count);
        Assert.All(inference.GetMeasurementSnapshot(), m => AssertVersion(m, "tiny-cnn", "2"));
        Assert.Equal(2, inference.GetMeasurementSnapshot().Count);
        var success = predictions.GetMeasurementSnapshot().Where(m => (string?)m.Tags["outcome"] == "success").ToList();
        Assert.Equal(2, success.Sum(m => m.Value));
        Assert.DoesNotContain(predictions.GetMeasurementSnapshot(), m => (string?)m.Tags["outcome"] == "failure");
    }

    [Fact]
    public async Task Classify_UndecodableImage_CountsAnInvalidImageFailureForTheVersion()
    {
        using var predictions = Collect<long>("inference.predictions");
        using var preprocess = Collect<double>("inference.preprocess.duration");
        var classifier = _services.GetRequiredService<ImageClassifier>();

        await Assert.ThrowsAsync<ImageInputException>(() => classifier.ClassifyAsync(new NamedImage("x.png", Images.Solid(64, 64, SKColors.Red).AsMemory(0, 40))));

        var failure = Assert.Single(predictions.GetMeasurementSnapshot());
        AssertVersion(failure, "tiny-cnn", "2");
        Assert.Equal(("failure", InferenceMetrics.Errors.InvalidImage), ((string?)failure.Tags["outcome"], (string?)failure.Tags["error.type"]));
        Assert.Empty(preprocess.GetMeasurementSnapshot());
    }

    [Fact]
    public async Task Classify_ModelThatCannotLoad_CountsAModelLoadFailure()
    {
        using var predictions = Collect<long>("inference.predictions");
        using var load = Collect<double>("inference.model.load.duration");
        var classifier = _services.GetRequiredService<ImageClassifier>();

        await Assert.ThrowsAsync<ModelLoadException>(() => classifier.ClassifyAsync(new NamedImage("a.png", Images.Solid(8, 8, SKColors.Red)), model: "broken"));

        var failure = Assert.Single(predictions.GetMeasurementSnapshot());
        AssertVersion(failure, "broken", "1");
        Assert.Equal(InferenceMetrics.Errors.ModelLoad, failure.Tags["error.type"]);
        Assert.Empty(load.GetMeasurementSnapshot());
    }

    [Fact]
    public async Task ClassifyBatch_SomeImagesBad_CountsSuccessesAndFailuresPerImage()
    {
        using var predictions = Collect<long>("inference.predictions");
        var classifier = _services.GetRequiredService<ImageClassifier>();
        var catalog = _services.GetRequiredService<ModelCatalog>();
        NamedImage[] images =
        [
            new("a.png", Images.Solid(8, 8, SKColors.Red)),
            new("bad-1", "not an image"u8.ToArray()),
            new("b.png", Images.Solid(8, 8, SKColors.Blue)),
            new("bad-2", Images.Solid(64, 64, SKColors.Red).AsMemory(0, 40)),
            new("c.png", Images.Solid(8, 8, SKColors.Green)),
        ];

        await classifier.ClassifyBatchAsync(images, catalog.Resolve());

        var all = predictions.GetMeasurementSnapshot();
        Assert.Equal(3, all.Where(m => (string?)m.Tags["outcome"] == "success").Sum(m => m.Value));
        Assert.Equal(2, all.Where(m => m.Tags.GetValueOrDefault("error.type") is InferenceMetrics.Errors.InvalidImage).Sum(m => m.Value));
    }
}

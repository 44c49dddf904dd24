using System.Collections.Concurrent;
using System.Diagnostics;
using FunctionApp.Classification;
using FunctionApp.Inference;
using FunctionApp.Telemetry;
using FunctionApp.Tests.Support;
using Microsoft.Extensions.DependencyInjection;
using SkiaSharp;

namespace FunctionApp.Tests.Telemetry;

/// <summary>
/// The app's spans: tests run in parallel and share the activity source, so each test listens only to the
/// trace it starts itself.
/// </summary>
public sealed class InferenceActivityTests : IDisposable
{
    private readonly ModelRoot _models = new();
    private readonly ConcurrentQueue<Activity> _stopped = new();
    private readonly ActivityListener _listener;
    private readonly Activity _trace = new("test");

    public InferenceActivityTests()
    {
        _listener = new ActivityListener
        {
            ShouldListenTo = source => source.Name == InferenceActivity.SourceName,
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = _stopped.Enqueue,
        };
        ActivitySource.AddActivityListener(_listener);
    }

    public void Dispose()
    {
        _listener.Dispose();
        _trace.Dispose();
        _models.Dispose();
    }

    private List<Activity> Spans(string name) => _stopped.Where(a => a.TraceId == _trace.TraceId && a.OperationName == name).ToList();

    [Fact]
    public async Task Classify_FirstCall_TracesTheModelLoadAndTheClassificationWithTheVersion()
    {
        using var services = TestServices.Create(_models.Settings());
        var classifier = services.GetRequiredService<ImageClassifier>();
        _trace.Start();

        await classifier.ClassifyAsync(new NamedImage("a.png", Images.Solid(8, 8, SKColors.Red)));
        await classifier.ClassifyAsync(new NamedImage("b.png", Images.Solid(8, 8, SKColors.Red)));
        _trace.Stop();

        var load = Assert.Single(Spans("load model"));
        Assert.Equal(("tiny-cnn", "2"), ((string?)load.GetTagItem("model"), (string?)load.GetTagItem("model.version")));
        var classify = Spans("classify");
        Assert.Equal(2, classify.Count);
        Assert.All(classify, span => Assert.Equal("2", span.GetTagItem("model.version")));
        Assert.Equal(classify[0].SpanId, load.ParentSpanId);
    }

    [Fact]
    public async Task Classify_BrokenModel_MarksTheLoadSpanFailed()
    {
        using var services = TestServices.Create(_models.Settings());
        var classifier = services.GetRequiredService<ImageClassifier>();
        _trace.Start();

        await Assert.ThrowsAsync<ModelLoadException>(() => classifier.ClassifyAsync(new NamedImage("a.png", Images.Solid(8, 8, SKColors.Red)), model: "broken"));
        _trace.Stop();

        var load = Assert.Single(Spans("load model"));
        Assert.Equal(ActivityStatusCode.Error, load.Status);
        Assert.NotNull(load.GetTagItem("error.type"));
    }
}

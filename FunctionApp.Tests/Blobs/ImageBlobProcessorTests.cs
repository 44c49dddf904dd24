using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text.Json;
using Azure.Storage.Blobs.Models;
using FunctionApp.Storage;
using FunctionApp.Telemetry;
using FunctionApp.Tests.Support;
using SkiaSharp;

namespace FunctionApp.Tests.Blobs;

/// <summary>The images/ drop flow against Azurite: Setup (upload), Trigger (process), Verify (read the outputs back).</summary>
[Trait("Category", "EndToEnd")]
public class ImageBlobProcessorTests(BlobFlow flow) : IClassFixture<BlobFlow>
{
    private static async Task<JsonElement> Json(Azure.Storage.Blobs.BlobContainerClient container, string name) =>
        JsonDocument.Parse(await BlobFlow.ReadText(container, name)).RootElement;

    [Theory]
    [InlineData("red.png")]
    [InlineData("folder/sub dir/ünïcødé + name (1).png")]
    public async Task Process_Image_WritesPredictionPreprocessedImageAndThumbnail(string name)
    {
        var upload = (await flow.Storage.Images.GetBlobClient(name).UploadAsync(new BinaryData(Images.Solid(20, 10, SKColors.Red)), overwrite: true)).Value;

        var outcome = await flow.Images.ProcessAsync(name, CancellationToken.None);

        Assert.Equal(BlobOutcome.Processed, outcome);
        var prediction = await Json(flow.Storage.Predictions, name + ".json");
        Assert.Equal(name, prediction.GetProperty("name").GetString());
        Assert.Equal("ok", prediction.GetProperty("status").GetString());
        Assert.Equal(("tiny-cnn", "2"), (prediction.GetProperty("model").GetString(), prediction.GetProperty("version").GetString()));
        Assert.Equal("red", prediction.GetProperty("top")[0].GetProperty("label").GetString());
        Assert.True(prediction.GetProperty("timings").GetProperty("inferenceMs").GetDouble() > 0);
        var source = prediction.GetProperty("source");
        Assert.Equal(upload.ETag.ToString().Trim('"'), source.GetProperty("eTag").GetString());
        Assert.Equal((await flow.Storage.Images.GetBlobClient(name).GetPropertiesAsync()).Value.ContentLength, source.GetProperty("size").GetInt64());

        var preprocessed = (await flow.Storage.Preprocessed.GetBlobClient(name).DownloadContentAsync()).Value;
        Assert.Equal("image/png", preprocessed.Details.ContentType);
        using (var bitmap = SKBitmap.Decode(preprocessed.Content.ToArray()))
            Assert.Equal((8, 8), (bitmap.Width, bitmap.Height));
        using (var thumbnail = SKBitmap.Decode((await flow.Storage.Thumbnails.GetBlobClient($"10/{name}").DownloadContentAsync()).Value.Content.ToArray()))
            Assert.Equal((10, 5), (thumbnail.Width, thumbnail.Height));
        Assert.True(await BlobFlow.Exists(flow.Storage.Images, name), "a classified original stays where it was dropped");
    }

    [Fact]
    public async Task Process_Image_IsOneBlobSpanWithTheClassificationInside()
    {
        var stopped = new ConcurrentQueue<Activity>();
        using var listener = new ActivityListener
        {
            ShouldListenTo = source => source.Name == InferenceActivity.SourceName,
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = stopped.Enqueue,
        };
        ActivitySource.AddActivityListener(listener);
        await flow.Storage.Images.GetBlobClient("traced.png").UploadAsync(new BinaryData(Images.Solid(8, 8, SKColors.Red)), overwrite: true);
        using var trace = new Activity("test").Start();

        await flow.Images.ProcessAsync("traced.png", CancellationToken.None);
        trace.Stop();

        var spans = stopped.Where(a => a.TraceId == trace.TraceId).ToList();
        var blob = Assert.Single(spans, a => a.OperationName == "process image");
        Assert.Equal(("images", "traced.png", "Processed"), ((string?)blob.GetTagItem("blob.container"), (string?)blob.GetTagItem("blob.name"), (string?)blob.GetTagItem("blob.outcome")));
        Assert.Equal(ActivityKind.Consumer, blob.Kind);
        Assert.Equal(blob.SpanId, Assert.Single(spans, a => a.OperationName == "classify").ParentSpanId);
    }

    [Fact]
    public async Task Process_SameUploadTwice_WritesItsOutputsOnce()
    {
        const string name = "twice.png";
        await flow.Storage.Images.GetBlobClient(name).UploadAsync(new BinaryData(Images.Solid(8, 8, SKColors.Blue)), overwrite: true);
        Assert.Equal(BlobOutcome.Processed, await flow.Images.ProcessAsync(name, CancellationToken.None));
        var first = (await flow.Storage.Predictions.GetBlobClient(name + ".json").GetPropertiesAsync()).Value.ETag;

        var again = await flow.Images.ProcessAsync(name, CancellationToken.None);

        Assert.Equal(BlobOutcome.AlreadyProcessed, again);
        Assert.Equal(first, (await flow.Storage.Predictions.GetBlobClient(name + ".json").GetPropertiesAsync()).Value.ETag);
    }

    [Fact]
    public async Task Process_ReplacedUpload_IsProcessedAgain()
    {
        const string name = "replaced.png";
        await flow.Storage.Images.GetBlobClient(name).UploadAsync(new BinaryData(Images.Solid(8, 8, SKColors.Blue)), overwrite: true);
        await flow.Images.ProcessAsync(name, CancellationToken.None);
        await flow.Storage.Images.GetBlobClient(name).UploadAsync(new BinaryData(Images.Solid(8, 8, SKColors.Red)), overwrite: true);

        var outcome = await flow.Images.ProcessAsync(name, CancellationToken.None);

        Assert.Equal(BlobOutcome.Processed, outcome);
        Assert.Equal("red", (await Json(flow.Storage.Predictions, name + ".json")).GetProperty("top")[0].GetProperty("label").GetString());
    }

    [Theory]
    [InlineData("notes/readme.png", "TEXT", "unsupportedFormat")]
    [InlineData("broken.jpg", "BROKEN", "undecodable")]
    [InlineData("huge.png", "HUGE", "tooLarge")]
    [InlineData("bomb.png", "BOMB", "tooManyPixels")]
    public async Task Process_UnusableImage_RecordsWhyAndKeepsTheOriginalInTheFailureContainer(string name, string kind, string errorKind)
    {
        byte[] content = kind switch
        {
            "TEXT" => "just some text"u8.ToArray(),
            "BROKEN" => Images.Solid(64, 64, SKColors.Red, SKEncodedImageFormat.Jpeg)[..150],
            "HUGE" => new byte[300_000],
            _ => Images.Solid(8000, 6000, SKColors.Green),
        };
        var etag = (await flow.Storage.Images.GetBlobClient(name).UploadAsync(new BinaryData(content), overwrite: true)).Value.ETag.ToString().Trim('"');

        var outcome = await flow.Images.ProcessAsync(name, CancellationToken.None);

        Assert.Equal(BlobOutcome.Failed, outcome);
        Assert.False(await BlobFlow.Exists(flow.Storage.Images, name));
        var kept = (await flow.Storage.Failed.GetBlobClient(name).DownloadContentAsync()).Value;
        Assert.Equal(content, kept.Content.ToArray());
        Assert.Equal((errorKind, etag), (kept.Details.Metadata["errorkind"], kept.Details.Metadata["sourceetag"]));
        var record = await Json(flow.Storage.Predictions, name + ".json");
        Assert.Equal(("failed", errorKind), (record.GetProperty("status").GetString(), record.GetProperty("errorKind").GetString()));
        Assert.False(string.IsNullOrWhiteSpace(record.GetProperty("error").GetString()));
        Assert.Equal($"images-failed/{name}", record.GetProperty("original").GetString());
        Assert.Equal(etag, record.GetProperty("source").GetProperty("eTag").GetString());
    }

    [Fact]
    public async Task Overwrite_ValidThenCorrupt_TheFailureReplacesThePredictionAndItsOutputs()
    {
        const string name = "flip/valid-then-corrupt.png";
        var blob = flow.Storage.Images.GetBlobClient(name);
        await blob.UploadAsync(new BinaryData(Images.Solid(20, 10, SKColors.Red)), overwrite: true);
        Assert.Equal(BlobOutcome.Processed, await flow.Images.ProcessAsync(name, CancellationToken.None));
        await blob.UploadAsync(BinaryData.FromString("not an image any more"), overwrite: true);

        Assert.Equal(BlobOutcome.Failed, await flow.Images.ProcessAsync(name, CancellationToken.None));

        Assert.Equal("failed", (await Json(flow.Storage.Predictions, name + ".json")).GetProperty("status").GetString());
        Assert.True(await BlobFlow.Exists(flow.Storage.Failed, name));
        Assert.False(await BlobFlow.Exists(flow.Storage.Preprocessed, name), "the old prediction's preprocessed image is not left beside the failure");
        Assert.False(await BlobFlow.Exists(flow.Storage.Thumbnails, "10/" + name));
    }

    [Fact]
    public async Task Overwrite_CorruptThenValid_ThePredictionReplacesTheFailureAndItsOriginal()
    {
        const string name = "flip/corrupt-then-valid.png";
        var blob = flow.Storage.Images.GetBlobClient(name);
        await blob.UploadAsync(BinaryData.FromString("garbage"), overwrite: true);
        Assert.Equal(BlobOutcome.Failed, await flow.Images.ProcessAsync(name, CancellationToken.None));
        await blob.UploadAsync(new BinaryData(Images.Solid(20, 10, SKColors.Blue)), overwrite: true);

        Assert.Equal(BlobOutcome.Processed, await flow.Images.ProcessAsync(name, CancellationToken.None));

        var record = await Json(flow.Storage.Predictions, name + ".json");
        Assert.Equal(("ok", "blue"), (record.GetProperty("status").GetString(), record.GetProperty("top")[0].GetProperty("label").GetString()));
        Assert.False(await BlobFlow.Exists(flow.Storage.Failed, name), "the old failure's original is not left beside the prediction");
    }

    [Fact]
    public async Task Process_TriggerForAReplacedUpload_WritesNothing()
    {
        const string name = "stale.png";
        var blob = flow.Storage.Images.GetBlobClient(name);
        await blob.UploadAsync(new BinaryData(Images.Solid(8, 8, SKColors.Red)), overwrite: true);
        var first = await blob.GetPropertiesAsync();
        await blob.UploadAsync(new BinaryData(Images.Solid(8, 8, SKColors.Blue)), overwrite: true);
        Assert.Equal(BlobOutcome.Processed, await flow.Images.ProcessAsync(name, CancellationToken.None));
        var record = (await flow.Storage.Predictions.GetBlobClient(name + ".json").GetPropertiesAsync()).Value.ETag;

        // The poison path for the first upload arrives late: it names an ETag no longer in place.
        var late = await flow.Images.ConcludeAsync(name, first.Value.ETag.ToString().Trim('"'), 5, CancellationToken.None);

        Assert.Equal(BlobOutcome.Missing, late);
        Assert.Equal(record, (await flow.Storage.Predictions.GetBlobClient(name + ".json").GetPropertiesAsync()).Value.ETag);
    }

    [Fact]
    public async Task Process_MissingBlob_DoesNothing()
    {
        Assert.Equal(BlobOutcome.Missing, await flow.Images.ProcessAsync("never-uploaded.png", CancellationToken.None));
        Assert.False(await BlobFlow.Exists(flow.Storage.Predictions, "never-uploaded.png.json"));
    }

    [Fact]
    public async Task Outputs_AreWholeUploadsWithTheSourceETag()
    {
        const string name = "whole.png";
        var etag = (await flow.Storage.Images.GetBlobClient(name).UploadAsync(new BinaryData(Images.Solid(8, 8, SKColors.Red)), overwrite: true)).Value.ETag.ToString().Trim('"');

        await flow.Images.ProcessAsync(name, CancellationToken.None);

        BlobProperties properties = await flow.Storage.Predictions.GetBlobClient(name + ".json").GetPropertiesAsync();
        Assert.Equal(etag, properties.Metadata[FunctionApp.Storage.BlobWrites.SourceETagMetadata]);
        Assert.Equal(BlobType.Block, properties.BlobType);
        Assert.Equal("application/json", properties.ContentType);
    }
}

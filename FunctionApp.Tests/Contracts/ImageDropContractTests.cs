using System.Text.Json;
using FunctionApp.Tests.Support;
using SkiaSharp;

namespace FunctionApp.Tests.Contracts;

/// <summary>
/// <c>images/</c> through the trigger engine on an account with nothing in it: every upload ends with exactly one
/// current outcome in <c>predictions/</c>, and nothing else is left behind.
/// </summary>
[Trait("Category", "EndToEnd")]
public class ImageDropContractTests
{
    private static bool Status(JsonElement json, string status) => json.GetProperty("status").GetString() == status;

    [Fact]
    public async Task Images_ValidCorruptAndOverwritten_EachEndsWithExactlyOneCurrentOutcome()
    {
        await using var serve = await ServeOnEmptyAccount.StartAsync(s => (s["Storage:SweepInterval"], s["Storage:SweepGrace"]) = ("00:00:01", "00:00:04"));
        var images = serve.Storage.Images;
        var etagA = (await images.GetBlobClient("a.png").UploadAsync(new BinaryData(Images.Solid(8, 8, SKColors.Red)))).Value.ETag.ToString().Trim('"');
        await images.GetBlobClient("b.jpg").UploadAsync(BinaryData.FromString("not a picture"));

        var a = await ServeOnEmptyAccount.WaitForJsonAsync(serve.Storage.Predictions, "a.png.json", j => Status(j, "ok"));
        var b = await ServeOnEmptyAccount.WaitForJsonAsync(serve.Storage.Predictions, "b.jpg.json", j => Status(j, "failed"));
        Assert.Equal(("red", etagA), (a.GetProperty("top")[0].GetProperty("label").GetString(), a.GetProperty("source").GetProperty("eTag").GetString()));
        Assert.Equal("unsupportedFormat", b.GetProperty("errorKind").GetString());

        // Overwrite each with the opposite kind of content: the new outcome replaces the old one, nothing stays beside it.
        await images.GetBlobClient("a.png").UploadAsync(BinaryData.FromString("now broken"), overwrite: true);
        await images.GetBlobClient("b.jpg").UploadAsync(new BinaryData(Images.Solid(8, 8, SKColors.Blue, SKEncodedImageFormat.Jpeg)), overwrite: true);
        await ServeOnEmptyAccount.WaitForJsonAsync(serve.Storage.Predictions, "a.png.json", j => Status(j, "failed"));
        var b2 = await ServeOnEmptyAccount.WaitForJsonAsync(serve.Storage.Predictions, "b.jpg.json", j => Status(j, "ok"));
        Assert.Equal("blue", b2.GetProperty("top")[0].GetProperty("label").GetString());
        await Poll.UntilAsync(async () => (await ServeOnEmptyAccount.NamesAsync(serve.Storage.Failed)).SequenceEqual(["a.png"]), TimeSpan.FromSeconds(30), "the failure container to hold only a.png");

        Assert.Equal(["a.png.json", "b.jpg.json"], await ServeOnEmptyAccount.NamesAsync(serve.Storage.Predictions));
        Assert.Equal(["b.jpg"], await ServeOnEmptyAccount.NamesAsync(serve.Storage.Images));
        Assert.Equal(["a.png"], await ServeOnEmptyAccount.NamesAsync(serve.Storage.Failed));
        Assert.Equal(["b.jpg"], await ServeOnEmptyAccount.NamesAsync(serve.Storage.Preprocessed));
    }

    [Fact]
    public async Task Image_FailsEveryTry_EndsAsAFailureWithTheLastErrorAndTheOriginalKept()
    {
        // The default model cannot load: every try of the trigger fails, and the engine parks the blob as poison.
        await using var serve = await ServeOnEmptyAccount.StartAsync(s => s["Models:Default"] = "broken");
        await serve.Storage.Images.GetBlobClient("doomed.png").UploadAsync(new BinaryData(Images.Solid(8, 8, SKColors.Red)));

        var record = await ServeOnEmptyAccount.WaitForJsonAsync(serve.Storage.Predictions, "doomed.png.json");

        Assert.Equal(("failed", "processing"), (record.GetProperty("status").GetString(), record.GetProperty("errorKind").GetString()));
        Assert.Equal("Processing failed 5 times; the last error: model 'broken' version '1' could not be loaded.", record.GetProperty("error").GetString());
        Assert.Equal(["doomed.png"], await ServeOnEmptyAccount.NamesAsync(serve.Storage.Failed));
        Assert.Empty(await ServeOnEmptyAccount.NamesAsync(serve.Storage.Images));
        Assert.Contains(serve.Logs.Entries, e => e.Message.Contains("Blob images/doomed.png failed 5 tries", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Image_DeliveredTwice_TheSecondDeliveryChangesNothing()
    {
        await using var serve = await ServeOnEmptyAccount.StartAsync();
        var upload = (await serve.Storage.Images.GetBlobClient("twice.png").UploadAsync(new BinaryData(Images.Solid(8, 8, SKColors.Blue)))).Value;
        await ServeOnEmptyAccount.WaitForJsonAsync(serve.Storage.Predictions, "twice.png.json");
        var record = (await serve.Storage.Predictions.GetBlobClient("twice.png.json").GetPropertiesAsync()).Value.ETag;

        // The engine's own message for this upload, delivered again (as after a lost receipt).
        await TriggerEngineQueue.RedeliverAsync(serve, "ProcessImage", "images", "twice.png", upload.ETag.ToString());
        await TriggerEngineQueue.WaitUntilHandledAsync(serve);
        await Poll.UntilAsync(() => Task.FromResult(serve.Logs.Entries.Any(e => e.Message.StartsWith("Blob twice.png (ETag", StringComparison.Ordinal) && e.Message.EndsWith("was already processed", StringComparison.Ordinal))), TimeSpan.FromSeconds(30), "the redelivered trigger to run");

        Assert.Equal(record, (await serve.Storage.Predictions.GetBlobClient("twice.png.json").GetPropertiesAsync()).Value.ETag);
        Assert.Equal(["twice.png.json"], await ServeOnEmptyAccount.NamesAsync(serve.Storage.Predictions));
    }
}

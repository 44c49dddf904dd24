using FunctionApp.Tests.Support;
using SkiaSharp;

namespace FunctionApp.Tests.Hosting;

public class TriggerEngineSmokeTests
{
    [Fact]
    public async Task Serve_EmptyAccount_ImageDropIsClassifiedByTheEngine()
    {
        await using var serve = await ServeOnEmptyAccount.StartAsync();
        await serve.Storage.Images.GetBlobClient("a.png").UploadAsync(new BinaryData(Images.Solid(8, 8, SKColors.Red)));

        var record = await ServeOnEmptyAccount.WaitForJsonAsync(serve.Storage.Predictions, "a.png.json");

        Assert.Equal("red", record.GetProperty("top")[0].GetProperty("label").GetString());
    }
}

using FunctionApp.Tests.Support;
using Google.Protobuf;
using SkiaSharp;

namespace FunctionApp.Tests.Integration;

/// <summary>
/// The README's "Bring your own model" example files, committed so that its commands run on a fresh clone: an ONNX
/// model the tests can build (so the file cannot drift from what they test) and two images. Set
/// <c>WRITE_BYOM_EXAMPLE=1</c> to write them again.
/// </summary>
[Trait("Category", "EndToEnd")]
public class ReadmeExampleModelTests
{
    private static readonly string Folder = Path.Combine(ReadmeSection.RepositoryRoot, "FunctionApp.Tests", "TestData", "byom");

    private static byte[] Model => TinyCnn.BuildVariant().ToByteArray();

    private static byte[] Red => Images.Solid(32, 24, new SKColor(220, 30, 40));

    private static byte[] Blue => Images.Solid(32, 24, new SKColor(20, 60, 210));

    [Fact]
    public void ExampleFiles_AreWhatTheTestsBuild()
    {
        if (Environment.GetEnvironmentVariable("WRITE_BYOM_EXAMPLE") == "1")
        {
            Directory.CreateDirectory(Folder);
            File.WriteAllBytes(Path.Combine(Folder, "colours.onnx"), Model);
            File.WriteAllLines(Path.Combine(Folder, "colours.txt"), ["red", "green", "blue"]);
            File.WriteAllBytes(Path.Combine(Folder, "red.png"), Red);
            File.WriteAllBytes(Path.Combine(Folder, "blue.png"), Blue);
        }

        Assert.Equal(Model, File.ReadAllBytes(Path.Combine(Folder, "colours.onnx")));
        Assert.Equal(["red", "green", "blue"], File.ReadAllLines(Path.Combine(Folder, "colours.txt")));
        Assert.True(File.Exists(Path.Combine(Folder, "red.png")) && File.Exists(Path.Combine(Folder, "blue.png")));
    }
}

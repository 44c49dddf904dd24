using FunctionApp.Inference;

namespace FunctionApp.Tests.Inference;

public class PublicTextTests
{
    [Theory]
    [InlineData("Load model from /work/app/models/x/1/resnet18.onnx failed", "Load model from resnet18.onnx failed")]
    [InlineData("file '/tmp/models/c.onnx' is missing", "file 'c.onnx' is missing")]
    [InlineData(@"cannot open C:\models\x\1\m.onnx.", "cannot open m.onnx.")]
    [InlineData("model 'x' version '1' could not be loaded", "model 'x' version '1' could not be loaded")]
    [InlineData("labels 1/2 and 3/4 differ", "labels 1/2 and 3/4 differ")]
    public void Scrub_KeepsOnlyTheFileNameOfAbsolutePaths(string text, string scrubbed) =>
        Assert.Equal(scrubbed, PublicText.Scrub(text));
}

using FunctionApp.Inference;
using FunctionApp.Tests.Support;
using Google.Protobuf;
using Onnx;

namespace FunctionApp.Tests.Inference;

public class OnnxSignatureTests
{
    [Fact]
    public void Read_TinyCnn_ReturnsInputsAndOutputsWithSymbolicDims()
    {
        using var stream = new MemoryStream(TinyCnn.Build().ToByteArray());

        var signature = OnnxSignature.Read(stream);

        var input = Assert.Single(signature.Inputs);
        Assert.Equal(("image", TensorProto.Types.DataType.Float), (input.Name, input.ElementType));
        Assert.Equal([-1L, 3, 8, 8], input.Shape);
        var output = Assert.Single(signature.Outputs);
        Assert.Equal([-1L, 3, 1, 1], output.Shape);
        Assert.Equal(7, signature.IrVersion);
    }

    [Fact]
    public void Read_NotAModel_Throws()
    {
        using var stream = new MemoryStream(new ModelProto { IrVersion = 3 }.ToByteArray());

        Assert.Throws<InvalidDataException>(() => OnnxSignature.Read(stream));
    }
}

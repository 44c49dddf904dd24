using System.Runtime.InteropServices;
using FunctionApp.Inference;
using Google.Protobuf;
using Microsoft.ML.OnnxRuntime;
using FunctionApp.Tests.Support;
using Onnx;

namespace FunctionApp.Tests.Inference;

/// <summary>
/// Sessions made with the app's settings take their runs' working memory from one arena for the process: a second
/// session of a model (as the lone-run one is) reuses what the first one's run made the arena grow to. Measured in the
/// C allocator's own count of the bytes it has handed out, so these run alone (see <see cref="ProcessWideHeap"/>).
/// </summary>
[Collection(nameof(ProcessWideHeap))]
public sealed class SharedArenaTests : IDisposable
{
    /// <summary>The model's one intermediate tensor: 8 Mi floats.</summary>
    private const int Values = 8 * 1024 * 1024;
    private const long IntermediateBytes = Values * sizeof(float);

    private readonly TempDirectory _temp = new();
    private readonly string _model;
    private readonly float[] _input = new float[Values];

    public SharedArenaTests()
    {
        _model = Path.Combine(_temp.Path, "relu-sum.onnx");
        File.WriteAllBytes(_model, ReluThenSum().ToByteArray());
        for (int i = 0; i < _input.Length; i++)
            _input[i] = (i % 7) - 3;
    }

    public void Dispose() => _temp.Dispose();

    [Fact]
    public void ASecondSession_ReusesTheArenaTheFirstOneGrew_WhereSessionsOfTheirOwnGrowAnother()
    {
        var shared = new OnnxRuntimeOptions { IntraOpThreads = 1 };
        Assert.True(shared.SharedArena, "on by default");
        using var first = Session(shared);
        float expected = 6f * (Values / 7); // 1 + 2 + 3 in each run of seven values -3..3; the last four add nothing
        Assert.Equal(expected, Run(first), expected * 1e-4f);
        long before = InUseBytes();
        using var second = Session(shared);
        Run(second);
        long sharedGrowth = InUseBytes() - before;

        var own = new OnnxRuntimeOptions { IntraOpThreads = 1, SharedArena = false };
        before = InUseBytes();
        using var third = Session(own);
        Run(third);
        long ownGrowth = InUseBytes() - before;

        Assert.True(ownGrowth >= IntermediateBytes, $"a session with an arena of its own grew the heap by {ownGrowth / 1024} KiB (its run needs {IntermediateBytes / 1024} KiB)");
        Assert.True(sharedGrowth < IntermediateBytes / 4, $"the second session on the shared arena grew the heap by {sharedGrowth / 1024} KiB");
    }

    private InferenceSession Session(OnnxRuntimeOptions runtime)
    {
        using var options = runtime.CreateSessionOptions();
        return new InferenceSession(_model, options);
    }

    private float Run(InferenceSession session)
    {
        using var input = OrtValue.CreateTensorValueFromMemory(_input, [1, Values]);
        using var outputs = session.Run(new RunOptions(), ["x"], [input], ["sum"]);
        return outputs[0].GetTensorDataAsSpan<float>()[0];
    }

    /// <summary>x [1, 8Mi] -> Relu -> ReduceSum over everything: one intermediate the size of the input.</summary>
    private static ModelProto ReluThenSum()
    {
        var graph = new GraphProto { Name = "relu-sum" };
        graph.Input.Add(Tensor("x", 1, Values));
        graph.Node.Add(new NodeProto { OpType = "Relu", Input = { "x" }, Output = { "positive" } });
        var sum = new NodeProto { OpType = "ReduceSum", Input = { "positive" }, Output = { "sum" } };
        sum.Attribute.Add(new AttributeProto { Name = "keepdims", Type = AttributeProto.Types.AttributeType.Int, I = 0 });
        graph.Node.Add(sum);
        graph.Output.Add(Tensor("sum"));
        var model = new ModelProto { IrVersion = 8, ProducerName = "FunctionApp.Tests", Graph = graph };
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = string.Empty, Version = 13 });
        return model;
    }

    private static ValueInfoProto Tensor(string name, params long[] dims)
    {
        var shape = new TensorShapeProto();
        foreach (var dim in dims)
            shape.Dim.Add(new TensorShapeProto.Types.Dimension { DimValue = dim });
        return new ValueInfoProto { Name = name, Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)TensorProto.Types.DataType.Float, Shape = shape } } };
    }

    /// <summary>Bytes glibc's malloc has handed out and not had back: from its heaps, and in blocks mapped of their own.</summary>
    private static long InUseBytes()
    {
        var info = MallInfo2();
        return (long)(info.Uordblks + info.Hblkhd);
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct MallInfo
    {
        public nuint Arena, Ordblks, Smblks, Hblks, Hblkhd, Usmblks, Fsmblks, Uordblks, Fordblks, Keepcost;
    }

    [DllImport("libc", EntryPoint = "mallinfo2")]
    private static extern MallInfo MallInfo2();
}

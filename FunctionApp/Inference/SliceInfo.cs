namespace FunctionApp.Inference;

/// <summary>A tensor crossing a slice boundary: name, ONNX element type and concrete shape.</summary>
public sealed record SliceTensor(string Name, int ElementType, IReadOnlyList<long> Shape);

/// <summary>One sub-model: its file, the nodes it holds, the weight bytes it carries, and what crosses its edges.</summary>
public sealed record SliceInfo(string File, int FirstNode, int NodeCount, long WeightBytes, IReadOnlyList<SliceTensor> Inputs, IReadOnlyList<SliceTensor> Outputs);

using FunctionApp.Classification;
using FunctionApp.Inference;

namespace FunctionApp.Capacity;

/// <summary>How one instance is set up for a measurement: ONNX Runtime's threads per inference and the engine-pool size.</summary>
public sealed record ServingSetting(int IntraOpThreads, int MaxEngines);

/// <summary>
/// The app's own serving path (its classifier over a freshly created engine pool) built with one
/// <see cref="ServingSetting"/>; disposing it releases the model.
/// </summary>
public interface IServingStack : IAsyncDisposable
{
    ImageClassifier Classifier { get; }

    ModelEntry Model { get; }
}

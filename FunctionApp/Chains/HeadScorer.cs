using FunctionApp.Inference;
using Microsoft.ML.Data;
using Microsoft.ML;

namespace FunctionApp.Chains;

/// <summary>
/// The end of a model after its ONNX part: the ML.NET head (if the package has one) on the final tensor as
/// <c>Features</c>, or the tensor itself as scores; then probabilities and top-K. Used by the last step of a
/// slice chain, which has only the final tensor in hand.
/// </summary>
public sealed class HeadScorer
{
    private readonly ModelPackage _package;
    private readonly MLContext _ml = new(seed: 0);
    private readonly ITransformer? _head;
    private readonly SchemaDefinition? _schema;

    public HeadScorer(ModelPackage package, IReadOnlyList<long> finalShape)
    {
        ArgumentNullException.ThrowIfNull(package);
        ArgumentNullException.ThrowIfNull(finalShape);
        _package = package;
        if (package.HasHead)
        {
            _head = _ml.Model.Load(package.HeadPath!, out _);
            _schema = SchemaDefinition.Create(typeof(FeaturesRow));
            _schema[0].ColumnType = new VectorDataViewType(NumberDataViewType.Single, finalShape.Select(d => (int)d).ToArray());
        }
    }

    public IReadOnlyList<LabelScore> Rank(float[] finalTensor, int topK)
    {
        ArgumentNullException.ThrowIfNull(finalTensor);
        var scores = finalTensor;
        if (_head is not null)
        {
            using var engine = _ml.Model.CreatePredictionEngine<FeaturesRow, ScoreRow>(_head, ignoreMissingColumns: true, inputSchemaDefinition: _schema);
            scores = engine.Predict(new FeaturesRow { Features = finalTensor }).Score;
        }

        return ScorePostprocessor.Rank(scores, _package.Manifest.Scores, _package.Labels, topK);
    }

    private sealed class FeaturesRow
    {
        public float[] Features { get; set; } = [];
    }

    private sealed class ScoreRow
    {
        public float[] Score { get; set; } = [];
    }
}

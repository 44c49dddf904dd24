using FunctionApp.Imaging;
using Microsoft.ML.Data;
using Microsoft.ML.Transforms.Onnx;
using Microsoft.ML;
using Onnx;

namespace FunctionApp.Inference;

/// <summary>What a model's ONNX files loaded from, the slowest first.</summary>
public enum ModelSource
{
    /// <summary>The model file itself, optimized as it loaded.</summary>
    File,

    /// <summary>Its prepared form shipped with the app (see <see cref="PreparedModels"/>).</summary>
    Prepared,

    /// <summary>The optimized model this machine saved earlier (see <see cref="OptimizedModelCache"/>).</summary>
    MachineCache,
}

/// <summary>One preprocessed image: the model's input tensor, flattened.</summary>
public sealed class TensorInput
{
    public float[] Pixels { get; set; } = [];
}

/// <summary>What the pipeline produces for one image: class scores (or features, for a featurizer).</summary>
public sealed class ScoresOutput
{
    public float[] Scores { get; set; } = [];
}

/// <summary>
/// The ML.NET pipeline for one model version: <c>ApplyOnnxModel</c> on the preprocessed tensor, then
/// either the ONNX output as scores, or an ML.NET head applied to it as <c>Features</c>. The fitted
/// transformer (and the ONNX Runtime session inside it) is shared by every prediction engine made from
/// it; single images and batches run through the same transformer.
/// </summary>
public sealed class InferencePipeline : IDisposable
{
    public const string ScoresColumn = "Scores";

    private readonly MLContext _ml;
    private readonly TransformerChain<ITransformer> _transformer;
    private readonly SchemaDefinition _inputSchema;
    private PredictionEngine<TensorInput, ScoresOutput>? _warmEngine;
    private TaskCompletionSource<TimeSpan>? _warmUpRun;

    private InferencePipeline(ModelPackage package, OnnxSignature signature, MLContext ml, TransformerChain<ITransformer> transformer, SchemaDefinition inputSchema, DataViewType featureType, int outputWidth)
    {
        Package = package;
        Signature = signature;
        _ml = ml;
        _transformer = transformer;
        _inputSchema = inputSchema;
        FeatureType = featureType;
        OutputWidth = outputWidth;
    }

    public ModelPackage Package { get; }
    public OnnxSignature Signature { get; }

    /// <summary>The ML.NET type of the ONNX output, which a head sees as its <c>Features</c> column.</summary>
    public DataViewType FeatureType { get; }

    /// <summary>How many scores (or features) one image produces.</summary>
    public int OutputWidth { get; }

    public MLContext Context => _ml;

    private string[] _unsaved = [];
    private OnnxRuntimeOptions? _runtime;
    private IReadOnlyList<SharedWeights.Lease> _weights = [];

    /// <summary>Whether some of this pipeline's ONNX files loaded the ordinary way and could be saved to the optimized-model cache.</summary>
    public bool HasUnsavedOptimizedModels => _unsaved.Length > 0;

    /// <summary>
    /// Saves the optimized form of every ONNX file this pipeline loaded the ordinary way to the optimized-model cache,
    /// so that later loads on this machine (a restart, a lone-run session) read it instead. It builds, and drops, one
    /// ONNX Runtime session per file, so it takes about as long as the model's load and as much memory for that
    /// while: run it in the background after the first predictions. Returns how many entries it wrote.
    /// </summary>
    public int SaveOptimized(CancellationToken cancellationToken = default)
    {
        if (_runtime is not { } runtime || OptimizedModelCache.For(runtime) is not { } cache)
            return 0;
        int written = 0;
        foreach (var path in _unsaved)
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (OptimizedModelCache.TryKey(path, runtime) is not { } key || cache.Find(key) is not null)
                continue;
            using var staging = cache.Stage(key);
            if (staging is null)
                continue;
            try
            {
                using var view = GraphOnlyModel.Prepare(path);
                using var options = runtime.CreateSessionOptions();
                staging.SaveInto(options);
                // ONNX Runtime warns that a saved optimized model suits only this machine, which is how the cache uses it.
                if (runtime.LogLevel is null)
                    options.LogSeverityLevel = Microsoft.ML.OnnxRuntime.OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR;
                using (new Microsoft.ML.OnnxRuntime.InferenceSession(view.Path, options))
                {
                }

                if (staging.Commit())
                    written++;
            }
            catch (Microsoft.ML.OnnxRuntime.OnnxRuntimeException)
            {
                // A model ONNX Runtime cannot save (or a view it cannot read): it keeps loading the ordinary way.
            }
        }

        _unsaved = [];
        NativeHeap.Trim();
        return written;
    }

    /// <summary>
    /// Where the ONNX stages loaded from: <see cref="ModelSource.MachineCache"/> when every one came from the optimized
    /// models this machine saved earlier, <see cref="ModelSource.Prepared"/> when every one came from there or from its
    /// prepared form, otherwise <see cref="ModelSource.File"/>.
    /// </summary>
    public ModelSource LoadedFrom { get; private set; }

    /// <summary>True when every ONNX stage loaded from the optimized models this machine saved earlier (see <see cref="OptimizedModelCache"/>).</summary>
    public bool LoadedOptimized => LoadedFrom == ModelSource.MachineCache;

    /// <summary><see cref="LoadedFrom"/> in words, as the logs say it.</summary>
    public string LoadedFromDescription => LoadedFrom switch
    {
        ModelSource.MachineCache => "the optimized model saved on this machine",
        ModelSource.Prepared => "the prepared model shipped with the app",
        _ => "the model file",
    };

    /// <summary>Loads and validates a package and builds its pipeline.</summary>
    /// <exception cref="ModelPackageException">The package does not match its ONNX graph, head or labels.</exception>
    public static InferencePipeline Create(ModelPackage package, OnnxRuntimeOptions runtime)
    {
        ArgumentNullException.ThrowIfNull(package);
        ArgumentNullException.ThrowIfNull(runtime);
        var manifest = package.Manifest;
        OnnxSignature signature;
        try
        {
            signature = ReadSignature(package.Directory, manifest);
        }
        catch (Exception ex) when (ex is IOException or InvalidDataException or Google.Protobuf.InvalidProtocolBufferException)
        {
            throw new ModelPackageException(package.Directory, [$"onnxFile '{manifest.OnnxFile}' is not a readable ONNX model: {ex.Message}"]);
        }

        var problems = CheckSignature(manifest, signature).ToList();
        if (problems.Count > 0)
            throw new ModelPackageException(package.Directory, problems);

        var ml = new MLContext(seed: 0);
        ml.SetOnnxSessionOption(new OnnxSessionOptions { CreateSessionOptions = runtime.CreateSessionOptions });

        var inputDims = InputDims(manifest.Preprocessing);
        var inputSchema = SchemaDefinition.Create(typeof(TensorInput));
        inputSchema[0].ColumnName = manifest.InputTensor;
        inputSchema[0].ColumnType = new VectorDataViewType(NumberDataViewType.Single, inputDims);
        var empty = ml.Data.LoadFromEnumerable(Array.Empty<TensorInput>(), inputSchema);

        // The head (a saved ML.NET model) loads on another thread while ONNX Runtime builds its session: neither
        // needs the other until the head is checked against the ONNX output.
        var head = StartReadingHead(package);
        var stages = new List<ITransformer>();
        IDataView afterOnnx = empty;
        var loadedFrom = ModelSource.MachineCache;
        var missed = new List<string>();
        var weights = new List<SharedWeights.Lease>();
        try
        {
            if (package.IsSliced && runtime.SliceResidency == SliceResidency.OneAtATime)
            {
                var mapping = OneSliceAtATime(ml, package, inputSchema, runtime);
                stages.Add(mapping);
                afterOnnx = mapping.Transform(afterOnnx);
            }

            // One ApplyOnnxModel stage for a whole model, or one per slice, each reading the columns (tensors)
            // the earlier slices wrote: the same pipeline definition either way.
            // ML.NET parses the whole file it is given with protobuf to learn the graph's types; given a graph-only
            // view, whose weights ONNX Runtime reads from the original bytes, it parses kilobytes instead of every weight.
            foreach (var (file, inputs, outputs) in package.IsSliced && runtime.SliceResidency == SliceResidency.OneAtATime ? [] : OnnxStages(package, inputDims))
            {
                var (stage, from) = LoadStage(ml, Path.Combine(package.Directory, file), inputs, outputs, runtime, afterOnnx, weights);
                stages.Add(stage);
                loadedFrom = (ModelSource)Math.Min((int)loadedFrom, (int)from);
                if (from == ModelSource.File)
                    missed.Add(Path.Combine(package.Directory, file));
                afterOnnx = stage.Transform(afterOnnx);
            }
        }
        catch (Exception ex) when (ex is InvalidOperationException or ArgumentException or Microsoft.ML.OnnxRuntime.OnnxRuntimeException)
        {
            foreach (var stage in stages.OfType<IDisposable>())
                stage.Dispose();
            foreach (var lease in weights)
                lease.Dispose();
            Discard(head);
            throw new ModelPackageException(package.Directory, [$"ONNX Runtime cannot load '{manifest.OnnxFile}': {ex.Message}"]);
        }

        var pipeline = Finish(package, signature, ml, inputSchema, empty, afterOnnx, stages, head);
        pipeline.LoadedFrom = stages.OfType<OnnxTransformer>().Any() ? loadedFrom : ModelSource.File;
        pipeline._unsaved = OptimizedModelCache.For(runtime) is null ? [] : [.. missed];
        pipeline._runtime = runtime;
        pipeline._weights = weights;
        // Optimizing a graph frees about as much native memory as its weights; glibc would keep it.
        NativeHeap.Trim();
        return pipeline;
    }

    /// <summary>
    /// One <c>ApplyOnnxModel</c> stage for <paramref name="path"/>: from the optimized model this machine saved for it
    /// earlier when there is one (see <see cref="OptimizedModelCache"/>), loaded with no further optimization; else from
    /// its prepared form shipped with the app (see <see cref="PreparedModels"/>), with the optimizations for this CPU;
    /// otherwise from the model itself, through its graph-only view (<see cref="SaveOptimized"/> then saves it for next
    /// time, off the cold start's path).
    /// </summary>
    private static (OnnxTransformer Stage, ModelSource From) LoadStage(MLContext ml, string path, Dictionary<string, int[]> inputs, string[] outputs, OnnxRuntimeOptions runtime, IDataView input, List<SharedWeights.Lease> weights)
    {
        // Both the cache and the prepared models find a file by its fingerprint: read it once.
        var cache = OptimizedModelCache.For(runtime);
        var preparedModels = PreparedModels.For(runtime);
        string? fingerprint = cache is null && preparedModels is null ? null : ModelFingerprint.TryOf(path);
        string? key = cache is null || fingerprint is null ? null : OptimizedModelCache.TryKey(path, runtime, fingerprint);
        if (cache is not null && key is not null && cache.Find(key) is { } optimized)
        {
            try
            {
                return (ApplyOnnxSharingWeights(ml, optimized, inputs, outputs, runtime, input, weights, Microsoft.ML.OnnxRuntime.GraphOptimizationLevel.ORT_DISABLE_ALL), ModelSource.MachineCache);
            }
            catch (Exception ex) when (ex is InvalidOperationException or ArgumentException or Microsoft.ML.OnnxRuntime.OnnxRuntimeException)
            {
                // A damaged or foreign entry: load the model itself, and write the entry again.
                cache.Discard(key);
            }
        }

        ml.SetOnnxSessionOption(new OnnxSessionOptions { CreateSessionOptions = runtime.CreateSessionOptions });
        if (fingerprint is not null && preparedModels?.FindByFingerprint(fingerprint) is { } prepared)
        {
            try
            {
                return (ApplyOnnxSharingWeights(ml, prepared, inputs, outputs, runtime, input, weights, runtime.GraphOptimization), ModelSource.Prepared);
            }
            catch (Exception ex) when (ex is InvalidOperationException or ArgumentException or Microsoft.ML.OnnxRuntime.OnnxRuntimeException)
            {
                // A damaged prepared form (the folder is the deployment's, so it stays as it is): the model itself loads.
            }
        }

        using var view = GraphOnlyModel.Prepare(path);
        try
        {
            return (ApplyOnnx(ml, view.Path, inputs, outputs, runtime, input), ModelSource.File);
        }
        catch (Exception ex) when (view.IsGraphOnly && ex is InvalidOperationException or ArgumentException or Microsoft.ML.OnnxRuntime.OnnxRuntimeException)
        {
            // A model the view does not suit fails (or succeeds) as itself, with its own file in the message.
            return (ApplyOnnx(ml, path, inputs, outputs, runtime, input), ModelSource.File);
        }
    }

    /// <summary>
    /// <see cref="ApplyOnnx"/> for a model saved with its weights in a file beside it, its weights from the process's one
    /// mapping of that file (<see cref="SharedWeights"/>), taken into <paramref name="weights"/> for the pipeline to give
    /// back once its sessions are gone. The session options the context had are restored for the stages that follow.
    /// </summary>
    private static OnnxTransformer ApplyOnnxSharingWeights(MLContext ml, string modelFile, Dictionary<string, int[]> inputs, string[] outputs, OnnxRuntimeOptions runtime, IDataView input, List<SharedWeights.Lease> weights, Microsoft.ML.OnnxRuntime.GraphOptimizationLevel optimization)
    {
        var lease = runtime.ShareWeights ? SharedWeights.Acquire(modelFile) : null;
        ml.SetOnnxSessionOption(new OnnxSessionOptions
        {
            CreateSessionOptions = () =>
            {
                var options = runtime.CreateSessionOptions(optimization);
                lease?.Weights.AddTo(options);
                return options;
            },
        });
        try
        {
            var stage = ApplyOnnx(ml, modelFile, inputs, outputs, runtime, input);
            if (lease is not null)
                weights.Add(lease);
            return stage;
        }
        catch
        {
            lease?.Dispose();
            throw;
        }
        finally
        {
            ml.SetOnnxSessionOption(new OnnxSessionOptions { CreateSessionOptions = runtime.CreateSessionOptions });
        }
    }

    private static OnnxTransformer ApplyOnnx(MLContext ml, string modelFile, Dictionary<string, int[]> inputs, string[] outputs, OnnxRuntimeOptions runtime, IDataView input) =>
        ml.Transforms.ApplyOnnxModel(new OnnxOptions
        {
            ModelFile = modelFile,
            InputColumns = [.. inputs.Keys],
            OutputColumns = [.. outputs],
            ShapeDictionary = inputs,
            IntraOpNumThreads = runtime.EffectiveIntraOpThreads,
            InterOpNumThreads = 1,
        }).Fit(input);

    /// <summary>
    /// The end of a sliced model, for the last step of a slice chain, which has only the final tensor in hand: the
    /// ML.NET head (if the package has one) on that tensor as <c>Features</c>, or the tensor itself as scores. Engines
    /// from this pipeline take the final tensor as their input.
    /// </summary>
    public static InferencePipeline CreateChainHead(ModelPackage package, OnnxRuntimeOptions runtime)
    {
        ArgumentNullException.ThrowIfNull(package);
        ArgumentNullException.ThrowIfNull(runtime);
        var manifest = package.Manifest;
        if (manifest.Slices is not { Count: > 0 } slices)
            throw new ModelPackageException(package.Directory, ["the package is not sliced, so it cannot run as a chain"]);
        var first = slices[0].Inputs.First(t => t.Name == manifest.InputTensor);
        var final = slices.SelectMany(sl => sl.Outputs).Last(t => t.Name == manifest.OutputTensor);

        // The slices' own records say what crosses the chain's ends; no slice file is read here.
        var signature = new OnnxSignature(
            [new OnnxTensorInfo(first.Name, (TensorProto.Types.DataType)first.ElementType, first.Shape)],
            [new OnnxTensorInfo(final.Name, (TensorProto.Types.DataType)final.ElementType, final.Shape)],
            IrVersion: 0);
        var ml = new MLContext(seed: 0);
        var inputSchema = SchemaDefinition.Create(typeof(TensorInput));
        inputSchema[0].ColumnName = manifest.OutputTensor;
        inputSchema[0].ColumnType = new VectorDataViewType(NumberDataViewType.Single, final.Shape.Select(d => (int)d).ToArray());
        var empty = ml.Data.LoadFromEnumerable(Array.Empty<TensorInput>(), inputSchema);
        return Finish(package, signature, ml, inputSchema, empty, empty, [], StartReadingHead(package));
    }

    /// <summary>Adds the head (or the plain copy of the output tensor) after the ONNX stages and builds the pipeline.</summary>
    private static InferencePipeline Finish(ModelPackage package, OnnxSignature signature, MLContext ml, SchemaDefinition inputSchema, IDataView empty, IDataView afterOnnx, List<ITransformer> stages, Task<SavedHead>? savedHead)
    {
        var manifest = package.Manifest;
        TransformerChain<ITransformer> transformer;
        try
        {
            // Transform is lazy: these views only carry the schema each stage is fitted against.
            var featureType = afterOnnx.Schema[manifest.OutputTensor].Type;
            if (package.HasHead)
            {
                var copyFeatures = ml.Transforms.CopyColumns(HeadSpec.FeaturesColumn, manifest.OutputTensor).Fit(afterOnnx);
                var headInput = copyFeatures.Transform(afterOnnx);
                var head = CheckHead(package, savedHead!.GetAwaiter().GetResult(), headInput.Schema, featureType);
                var afterHead = head.Transform(headInput);
                var scoreType = afterHead.Schema.GetColumnOrNull(HeadSpec.ScoreColumn)?.Type as VectorDataViewType;
                if (scoreType is null || !scoreType.IsKnownSize)
                    throw new ModelPackageException(package.Directory, [$"head '{manifest.Head!.File}' produces no '{HeadSpec.ScoreColumn}' vector column"]);
                if (scoreType.Size != package.Labels.Count)
                    throw new ModelPackageException(package.Directory, [$"labels file has {package.Labels.Count} labels but the head produces {scoreType.Size} class scores"]);
                stages.Add(copyFeatures);
                stages.Add(head);
                stages.Add(ml.Transforms.CopyColumns(ScoresColumn, HeadSpec.ScoreColumn).Fit(afterHead));
            }
            else
            {
                stages.Add(ml.Transforms.CopyColumns(ScoresColumn, manifest.OutputTensor).Fit(afterOnnx));
            }

            transformer = new TransformerChain<ITransformer>([.. stages]);
            var outputType = (VectorDataViewType)transformer.GetOutputSchema(empty.Schema)[ScoresColumn].Type;
            int width = outputType.IsKnownSize ? outputType.Size : (int)manifest.OnnxOutputWidth;
            return new InferencePipeline(package, signature, ml, transformer, inputSchema, featureType, width);
        }
        catch
        {
            foreach (var stage in stages.OfType<IDisposable>())
                stage.Dispose();
            if (savedHead is not null && (!savedHead.IsCompletedSuccessfully || !stages.Contains(savedHead.Result.Transformer)))
                Discard(savedHead);
            throw;
        }
    }

    /// <summary>
    /// The slices as one mapping stage that loads, runs and releases each slice in turn for every row, so that
    /// only one slice's weights are in memory at a time. It writes the same output column ApplyOnnxModel would.
    /// </summary>
    private static Microsoft.ML.Transforms.CustomMappingTransformer<TensorInput, ScoresOutput> OneSliceAtATime(MLContext ml, ModelPackage package, SchemaDefinition inputSchema, OnnxRuntimeOptions runtime)
    {
        var manifest = package.Manifest;
        var slices = manifest.Slices!.Select(sl => (Path.Combine(package.Directory, sl.File), sl)).ToList();
        var last = manifest.Slices!.SelectMany(sl => sl.Outputs).Last(t => t.Name == manifest.OutputTensor);
        var runner = new SlicedModelRunner(slices, SliceResidency.OneAtATime, runtime.CreateSessionOptions);
        long[] inputShape = [.. InputDims(manifest.Preprocessing).Select(d => (long)d)];
        var outputSchema = SchemaDefinition.Create(typeof(ScoresOutput));
        outputSchema[0].ColumnName = manifest.OutputTensor;
        outputSchema[0].ColumnType = new VectorDataViewType(NumberDataViewType.Single, last.Shape.Select(d => (int)d).ToArray());
        var estimator = ml.Transforms.CustomMapping<TensorInput, ScoresOutput>(
            (input, output) => output.Scores = runner.Run(new Dictionary<string, (float[], long[])>(StringComparer.Ordinal) { [manifest.InputTensor] = (input.Pixels, inputShape) })[manifest.OutputTensor].Data,
            contractName: null,
            inputSchemaDefinition: inputSchema,
            outputSchemaDefinition: outputSchema);
        return estimator.Fit(ml.Data.LoadFromEnumerable(Array.Empty<TensorInput>(), inputSchema));
    }

    /// <summary>The ONNX files to apply in order, with the shapes of the tensors each reads and the tensors it writes.</summary>
    private static IEnumerable<(string File, Dictionary<string, int[]> Inputs, string[] Outputs)> OnnxStages(ModelPackage package, int[] inputDims)
    {
        var manifest = package.Manifest;
        if (!package.IsSliced)
        {
            yield return (manifest.OnnxFile, new Dictionary<string, int[]> { [manifest.InputTensor] = inputDims }, [manifest.OutputTensor]);
            yield break;
        }

        foreach (var slice in manifest.Slices!)
        {
            var inputs = slice.Inputs.ToDictionary(t => t.Name, t => t.Name == manifest.InputTensor ? inputDims : t.Shape.Select(d => (int)d).ToArray(), StringComparer.Ordinal);
            yield return (slice.File, inputs, [.. slice.Outputs.Select(t => t.Name)]);
        }
    }

    /// <summary>
    /// Makes a prediction engine: cheap, but not thread-safe, so each caller needs its own (see <see cref="EnginePool"/>).
    /// The engine <see cref="WarmUp"/> made is handed out first.
    /// </summary>
    public PredictionEngine<TensorInput, ScoresOutput> CreateEngine() =>
        Interlocked.Exchange(ref _warmEngine, null)
        ?? _ml.Model.CreatePredictionEngine<TensorInput, ScoresOutput>(_transformer, ignoreMissingColumns: true, inputSchemaDefinition: _inputSchema);

    /// <summary>
    /// Makes an engine and runs one prediction on a blank tensor, so that ONNX Runtime has allocated what its first run
    /// needs; the engine is kept for the first <see cref="CreateEngine"/>.
    /// </summary>
    public void WarmUp()
    {
        AnnounceWarmUp();
        var run = _warmUpRun!;
        try
        {
            var engine = CreateEngine();
            var output = new ScoresOutput();
            long start = System.Diagnostics.Stopwatch.GetTimestamp();
            engine.Predict(new TensorInput { Pixels = new float[Package.Manifest.Preprocessing.TensorLength] }, ref output);
            WarmUpTime = System.Diagnostics.Stopwatch.GetElapsedTime(start);
            Interlocked.Exchange(ref _warmEngine, engine)?.Dispose();
            run.TrySetResult(WarmUpTime.Value);
        }
        catch (Exception ex)
        {
            run.TrySetException(ex);
            throw;
        }
    }

    /// <summary>
    /// Says that the caller is about to run <see cref="WarmUp"/> after handing the pipeline on: whoever takes it meanwhile
    /// finds the run in <see cref="WarmUpRun"/>, and can wait for it (a readiness check) or go ahead beside it on an
    /// engine of its own (a request), instead of waiting for the pipeline until the run is over.
    /// </summary>
    public void AnnounceWarmUp() =>
        Interlocked.CompareExchange(ref _warmUpRun, new TaskCompletionSource<TimeSpan>(TaskCreationOptions.RunContinuationsAsynchronously), null);

    /// <summary>The <see cref="WarmUp"/> run (how long its prediction took), once one is announced or has begun; null otherwise.</summary>
    public Task<TimeSpan>? WarmUpRun => Volatile.Read(ref _warmUpRun)?.Task;

    /// <summary>How long <see cref="WarmUp"/>'s prediction took; null until one has run, which shows the model answers.</summary>
    public TimeSpan? WarmUpTime { get; private set; }

    /// <summary>Scores many tensors as one <see cref="IDataView"/> through the same transformer. Thread-safe.</summary>
    public IReadOnlyList<float[]> ScoreBatch(IReadOnlyList<float[]> tensors, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(tensors);
        var rows = tensors.Select(t => new TensorInput { Pixels = t });
        var scored = _transformer.Transform(_ml.Data.LoadFromEnumerable(rows, _inputSchema));
        var results = new List<float[]>(tensors.Count);
        foreach (var row in _ml.Data.CreateEnumerable<ScoresOutput>(scored, reuseRowObject: false))
        {
            cancellationToken.ThrowIfCancellationRequested();
            results.Add(row.Scores);
        }

        return results;
    }

    /// <summary>Whether <see cref="Dispose"/> has released the pipeline (and its ONNX Runtime session).</summary>
    public bool IsDisposed { get; private set; }

    public void Dispose()
    {
        // A warm-up still running on another thread holds an engine over the session: it ends first.
        if (Volatile.Read(ref _warmUpRun)?.Task is { IsCompleted: false } running)
            ((IAsyncResult)running).AsyncWaitHandle.WaitOne();
        Interlocked.Exchange(ref _warmEngine, null)?.Dispose();
        _transformer.Dispose();
        // The sessions are gone with the transformer: the weights they read can be unmapped.
        foreach (var lease in _weights)
            lease.Dispose();
        _weights = [];
        IsDisposed = true;
    }

    internal static int[] InputDims(PreprocessingSpec spec) => spec.Layout == TensorLayout.Nchw
        ? [1, spec.Channels, spec.Height, spec.Width]
        : [1, spec.Height, spec.Width, spec.Channels];

    /// <summary>The graph's signature; for a sliced model, the first slice's inputs and every slice's outputs.</summary>
    internal static OnnxSignature ReadSignature(string directory, ModelManifest manifest) =>
        manifest.Slices is { Count: > 0 } slices
            ? slices.Select(sl => OnnxSignature.Read(Path.Combine(directory, sl.File)))
                .Aggregate((first, next) => first with { Outputs = [.. first.Outputs, .. next.Outputs] })
            : OnnxSignature.Read(Path.Combine(directory, manifest.OnnxFile));

    /// <summary>Checks the manifest against the graph's declared inputs and outputs.</summary>
    public static IEnumerable<string> CheckSignature(ModelManifest manifest, OnnxSignature signature)
    {
        ArgumentNullException.ThrowIfNull(manifest);
        ArgumentNullException.ThrowIfNull(signature);
        var input = signature.Inputs.FirstOrDefault(i => i.Name == manifest.InputTensor);
        if (input is null)
        {
            var inputs = string.Join(", ", signature.Inputs.Select(i => $"'{i.Name}' {i.ShapeText}").Take(8));
            yield return signature.WeightInputs.Contains(manifest.InputTensor, StringComparer.Ordinal)
                ? $"inputTensor '{manifest.InputTensor}' is a weight of the ONNX graph (listed among its inputs, as older exporters do), not an input; the graph's inputs: {inputs}"
                : $"inputTensor '{manifest.InputTensor}' is not an input of the ONNX graph; its inputs: {inputs}";
        }
        else
        {
            if (input.ElementType != TensorProto.Types.DataType.Float)
                yield return $"input '{input.Name}' has element type {input.ElementType}; only float is supported";
            var expected = InputDims(manifest.Preprocessing);
            if (input.Shape.Count != 4)
            {
                yield return $"input '{input.Name}' has shape {input.ShapeText}; the manifest's {manifest.Preprocessing.Layout} layout needs 4 dimensions";
            }
            else
            {
                for (int d = 0; d < 4; d++)
                {
                    if (input.Shape[d] >= 0 && input.Shape[d] != expected[d])
                    {
                        yield return $"input '{input.Name}' has shape {input.ShapeText} but the manifest's preprocessing produces [{string.Join(",", expected)}]";
                        break;
                    }
                }
            }
        }

        var output = signature.Outputs.FirstOrDefault(o => o.Name == manifest.OutputTensor);
        if (output is null)
        {
            yield return $"outputTensor '{manifest.OutputTensor}' is not an output of the ONNX graph; its outputs: {string.Join(", ", signature.Outputs.Select(o => $"'{o.Name}' {o.ShapeText}"))}";
        }
        else
        {
            if (output.ElementType != TensorProto.Types.DataType.Float)
                yield return $"output '{output.Name}' has element type {output.ElementType}; only float is supported";
            var declared = manifest.OutputShape;
            bool matches = output.Shape.Count == declared.Count
                && output.Shape.Zip(declared).All(p => p.First < 0 || p.Second < 0 || p.First == p.Second);
            if (!matches)
                yield return $"output '{output.Name}' has shape {output.ShapeText} but the manifest declares [{string.Join(",", declared)}]";
        }
    }

    /// <summary>A head as saved: the transformer and the schema it was trained on.</summary>
    private sealed record SavedHead(ITransformer Transformer, DataViewSchema Expected);

    private static Task<SavedHead>? StartReadingHead(ModelPackage package) =>
        package.HasHead ? Task.Run(() => ReadHead(package)) : null;

    /// <summary>Loads the head with a context of its own, so that it can load while the ONNX stages are built.</summary>
    private static SavedHead ReadHead(ModelPackage package)
    {
        try
        {
            using var stream = File.OpenRead(package.HeadPath!);
            var head = new MLContext(seed: 0).Model.Load(stream, out var expected);
            return new SavedHead(head, expected);
        }
        catch (Exception ex) when (ex is InvalidOperationException or FormatException or InvalidDataException or IOException)
        {
            throw new ModelPackageException(package.Directory, [$"head '{package.Manifest.Head!.File}' is not a saved ML.NET model: {ex.Message}"]);
        }
    }

    /// <summary>Waits for a head that will not be used and releases it; its own problems are beside the point then.</summary>
    private static void Discard(Task<SavedHead>? head)
    {
        if (head is null)
            return;
        try
        {
            (head.GetAwaiter().GetResult().Transformer as IDisposable)?.Dispose();
        }
        catch (ModelPackageException)
        {
            // The failure being reported is the ONNX model's.
        }
    }

    private static ITransformer CheckHead(ModelPackage package, SavedHead saved, DataViewSchema headInput, DataViewType featureType)
    {
        var file = package.Manifest.Head!.File;
        var (head, expected) = saved;
        var wanted = expected.GetColumnOrNull(HeadSpec.FeaturesColumn)?.Type;
        if (wanted is null)
            throw new ModelPackageException(package.Directory, [$"head '{file}' does not read a '{HeadSpec.FeaturesColumn}' column"]);
        if (!wanted.Equals(featureType))
            throw new ModelPackageException(package.Directory, [$"head '{file}' expects {HeadSpec.FeaturesColumn} of type {wanted} but the ONNX output '{package.Manifest.OutputTensor}' is {featureType}"]);

        try
        {
            _ = head.GetOutputSchema(headInput);
        }
        catch (Exception ex) when (ex is ArgumentException or InvalidOperationException)
        {
            throw new ModelPackageException(package.Directory, [$"head '{file}' cannot run on the ONNX output: {ex.Message}"]);
        }

        return head;
    }
}

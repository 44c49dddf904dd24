using System.Collections.Concurrent;
using System.Diagnostics;
using FunctionApp.Imaging;
using FunctionApp.Telemetry;
using Microsoft.Extensions.Logging;
using Microsoft.ML;

namespace FunctionApp.Inference;

/// <summary>
/// The process-wide home of one model version. The pipeline is built lazily on first use; concurrent
/// first callers wait for a single load; a failed load is reported to its callers and tried again on a
/// later call. The pipeline (and its ONNX Runtime session) is shared, while the prediction engines,
/// which are not thread-safe, are pooled up to <see cref="EnginePoolOptions.MaxEngines"/>. With a
/// <see cref="LoneSession"/>, a run that starts while no other is running goes to a second session with more threads.
/// </summary>
public sealed partial class EnginePool : IAsyncDisposable
{
    private readonly Func<InferencePipeline> _load;
    private readonly ILogger _logger;
    private readonly SemaphoreSlim _loadLock = new(1, 1);
    private readonly PrioritySlots _slots;
    private readonly ConcurrentBag<PredictionEngine<TensorInput, ScoresOutput>> _idle = [];
    private readonly int _maxEngines;
    private readonly BatchScoring _batchScoring;
    private readonly InferenceMetrics? _metrics;
    private readonly OnnxRuntimeOptions _runtime;
    private readonly Lock _factsLock = new();
    private readonly Lock _leaseLock = new();
    private readonly TaskCompletionSource _leasesReleased = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private volatile InferencePipeline? _pipeline;
    private volatile ColdStartFacts _facts = new(ModelLoadState.NotLoaded, 0, null, null, null, null);
    private int _enginesCreated;
    private int _leases;
    private bool _retiring;
    private volatile bool _disposed;
    private readonly LoneSession? _lone;
    private readonly Lock _loneLock = new();
    private readonly CancellationTokenSource _loneCancel = new();
    private InferencePipeline? _lonePipeline;
    private PredictionEngine<TensorInput, ScoresOutput>? _loneEngine;
    private Task _loneLoad = Task.CompletedTask;
    private int _running;
    private int _requests;
    private long _loneRuns;
    private readonly TimeSpan _backgroundDelay;
    private readonly long _gen0Budget;

    public EnginePool(string model, string version, Func<InferencePipeline> load, EnginePoolOptions options, ILogger<EnginePool> logger, InferenceMetrics? metrics = null, OnnxRuntimeOptions? runtime = null, LoneSession? lone = null)
    {
        _runtime = runtime ?? new OnnxRuntimeOptions();
        ArgumentNullException.ThrowIfNull(options);
        Model = model;
        Version = version;
        _load = load;
        _logger = logger;
        _maxEngines = options.MaxEngines;
        _batchScoring = options.BatchScoring;
        _metrics = metrics;
        _slots = new PrioritySlots(_maxEngines);
        _lone = lone;
        _backgroundDelay = options.LoneSessionDelay;
        _gen0Budget = options.CollectGen0AfterBytes;
    }

    public string Model { get; }
    public string Version { get; }
    public int MaxEngines => _maxEngines;

    /// <summary>Predictions, failures and recent inference latency of this version.</summary>
    public TrafficStats Traffic { get; } = new();

    /// <summary>How many prediction engines exist (idle or in use).</summary>
    public int EngineCount => Volatile.Read(ref _enginesCreated);

    public bool IsLoaded => _pipeline is not null;

    /// <summary>Whether the second session for lone runs is loaded (see <see cref="LoneSession"/>).</summary>
    public bool LoneSessionLoaded => Volatile.Read(ref _lonePipeline) is not null;

    /// <summary>How many runs went to the lone-run session.</summary>
    public long LoneRuns => Interlocked.Read(ref _loneRuns);

    /// <summary>
    /// Marks a request for this version as in progress, from before its image is decoded until its answer is made;
    /// dispose the result when it ends. A run counts as alone, and takes the lone-run session, only while no other
    /// marked request is in progress: under concurrent load another request is nearly always decoding or waiting, so
    /// the lone session's extra threads stay off the cores that concurrent runs need, while a request that really is
    /// alone (one caller, one at a time) gets them.
    /// </summary>
    public RequestScope BeginRequest()
    {
        Interlocked.Increment(ref _requests);
        return new RequestScope(this);
    }

    /// <summary>A request in progress (see <see cref="BeginRequest"/>).</summary>
    public readonly struct RequestScope(EnginePool pool) : IDisposable
    {
        public void Dispose() => Interlocked.Decrement(ref pool._requests);
    }

    /// <summary>Where loading stands and what the cold start cost: one consistent snapshot, replaced whole on every change.</summary>
    public ColdStartFacts ColdStart => _facts;

    /// <summary>
    /// Takes a lease: while it is held the pool is not released, even if its version is retired meanwhile. False once
    /// the pool has been retired (the caller asks the registry again, which hands out the successor's pool).
    /// </summary>
    internal bool TryEnter()
    {
        lock (_leaseLock)
        {
            if (_retiring)
                return false;
            _leases++;
            return true;
        }
    }

    internal void Exit()
    {
        lock (_leaseLock)
        {
            if (--_leases == 0 && _retiring)
                _leasesReleased.TrySetResult();
        }
    }

    /// <summary>Refuses new leases, waits for the current ones to be returned, then releases the model.</summary>
    internal async ValueTask RetireAsync()
    {
        lock (_leaseLock)
        {
            _retiring = true;
            if (_leases == 0)
                _leasesReleased.TrySetResult();
        }

        await _leasesReleased.Task;
        await DisposeAsync();
    }

    private void UpdateFacts(Func<ColdStartFacts, ColdStartFacts> change)
    {
        lock (_factsLock)
            _facts = change(_facts);
    }

    /// <summary>Returns the loaded pipeline, loading it first if no caller has yet.</summary>
    /// <exception cref="ModelLoadException">Loading failed; the next call tries again.</exception>
    public async ValueTask<InferencePipeline> GetPipelineAsync(CancellationToken cancellationToken = default)
    {
        if (_pipeline is { } ready)
            return ready;

        await _loadLock.WaitAsync(cancellationToken);
        try
        {
            if (_pipeline is { } loaded)
                return loaded;
            ObjectDisposedException.ThrowIf(_disposed, this);

            UpdateFacts(f => f with { State = ModelLoadState.Loading, LoadAttempts = f.LoadAttempts + 1 });
            long start = Stopwatch.GetTimestamp();
            using var activity = InferenceActivity.LoadModel(Model, Version);
            try
            {
                // Loading is CPU and disk bound; keep it off the caller's context.
                var pipeline = await Task.Run(_load, cancellationToken);
                var loadTime = Stopwatch.GetElapsedTime(start);
                _pipeline = pipeline;
                UpdateFacts(f => f with { State = ModelLoadState.Loaded, LoadTime = loadTime, LoadedAt = DateTimeOffset.UtcNow, LastError = null });
                LogLoaded(Model, Version, loadTime.TotalMilliseconds, pipeline.LoadedFromDescription);
                _metrics?.ModelLoaded(Model, Version, loadTime);

                // A pipeline warmed as it loaded (the start-up preload) has made its first prediction, or is making it
                // beside the requests that waited for the load; whichever ends first is the version's first prediction.
                if (pipeline.WarmUpRun is { } warmUp)
                {
                    if (warmUp.IsCompletedSuccessfully)
                        RecordFirstPrediction(warmUp.Result);
                    else
                        _ = RecordWarmUpAsync(warmUp);
                }
                return pipeline;
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                RecordFailure(InferenceMetrics.Errors.ModelLoad);
                activity.Fail(ex);
                var reason = PublicText.Scrub(ex.Message);
                UpdateFacts(f => f with { State = ModelLoadState.Failed, LastError = reason });
                LogLoadFailed(ex, Model, Version, reason);
                throw new ModelLoadException(Model, Version, reason, ex);
            }
            catch (OperationCanceledException)
            {
                UpdateFacts(f => f with { State = f.LastError is null ? ModelLoadState.NotLoaded : ModelLoadState.Failed });
                throw;
            }
        }
        finally
        {
            _loadLock.Release();
        }
    }

    /// <summary>Scores one preprocessed tensor on a pooled engine; waits while every engine is busy (bulk callers behind interactive ones).</summary>
    public ValueTask<float[]> ScoreAsync(float[] tensor, CancellationToken cancellationToken = default) =>
        ScoreAsync(tensor, InferencePriority.Interactive, cancellationToken);

    /// <inheritdoc cref="ScoreAsync(float[], CancellationToken)"/>
    public ValueTask<float[]> ScoreAsync(float[] tensor, InferencePriority priority, CancellationToken cancellationToken = default) =>
        ScoreCoreAsync(tensor, priority, traffic: true, cancellationToken);

    /// <summary>
    /// A check that the model answers (readiness, warm-up, a new version's trial run): one run on a pooled engine that
    /// counts as the version's first prediction if it is one, but not as traffic: not in the predictions, the latency
    /// percentiles or the inference metrics.
    /// </summary>
    public ValueTask<float[]> ProbeAsync(float[] tensor, CancellationToken cancellationToken = default) =>
        ScoreCoreAsync(tensor, InferencePriority.Interactive, traffic: false, cancellationToken);

    private async ValueTask<float[]> ScoreCoreAsync(float[] tensor, InferencePriority priority, bool traffic, CancellationToken cancellationToken)
    {
        var pipeline = await GetPipelineAsync(cancellationToken);
        await _slots.WaitAsync(priority, cancellationToken);
        PredictionEngine<TensorInput, ScoresOutput>? engine = null;
        bool lone = false;
        int running = Interlocked.Increment(ref _running);
        try
        {
            ObjectDisposedException.ThrowIf(_disposed, this);

            // Alone right now (no other run, and no other marked request on its way to one): the lone-run session's engine
            // (there is one), which uses more threads. A run that starts while it is busy takes a pooled engine; the two
            // then share the cores until the lone run ends.
            if (running == 1 && Volatile.Read(ref _requests) <= 1 && Interlocked.Exchange(ref _loneEngine, null) is { } loneEngine)
            {
                engine = loneEngine;
                lone = true;
                Interlocked.Increment(ref _loneRuns);
            }
            else if (!_idle.TryTake(out engine))
            {
                engine = pipeline.CreateEngine();
                Interlocked.Increment(ref _enginesCreated);
            }

            long start = Stopwatch.GetTimestamp();
            var output = new ScoresOutput();
            try
            {
                using var work = CpuWork.Begin();
                engine.Predict(new TensorInput { Pixels = tensor }, ref output);
                Gen0Pacing.AfterRun(_gen0Budget);
            }
            catch
            {
                if (traffic)
                    RecordFailure(InferenceMetrics.Errors.Inference);
                throw;
            }

            var elapsed = Stopwatch.GetElapsedTime(start);
            if (traffic)
                RecordScored(elapsed);
            RecordFirstPrediction(elapsed);

            return output.Scores;
        }
        finally
        {
            if (lone)
                Volatile.Write(ref _loneEngine, engine);
            else if (engine is not null)
                _idle.Add(engine);
            Interlocked.Decrement(ref _running);
            _slots.Release();
        }
    }

    /// <summary>
    /// The work that waits for a version's first prediction, in the background <see cref="EnginePoolOptions.LoneSessionDelay"/>
    /// later, off the cold start's path: saving the optimized model for later loads (when this load could not read it
    /// from the cache), then loading the lone-run session (when there is one, and the first run took long enough).
    /// </summary>
    private void StartAfterFirstPrediction(TimeSpan firstRun)
    {
        var main = _pipeline;
        bool save = main is { HasUnsavedOptimizedModels: true };
        bool lone = _lone is not null && firstRun >= _lone.MinFirstRun;
        if (_lone is not null && !lone)
            LogNoLoneSession(Model, Version, firstRun.TotalMilliseconds, _lone.MinFirstRun.TotalMilliseconds);
        if (!save && !lone)
            return;

        var token = _loneCancel.Token;
        _loneLoad = Task.Run(async () =>
        {
            try
            {
                await Task.Delay(_backgroundDelay, token);
                if (save)
                {
                    long started = Stopwatch.GetTimestamp();
                    int saved = main!.SaveOptimized(token);
                    var took = Stopwatch.GetElapsedTime(started);
                    if (saved > 0)
                        LogSavedOptimized(Model, Version, took.TotalMilliseconds);
                }

                if (lone)
                    LoadLoneSession(token);
            }
            catch (OperationCanceledException)
            {
                // The pool was released first.
            }
            catch (Exception ex)
            {
                // The model keeps loading the ordinary way; runs go on as before, on the pooled engines.
                LogLoneFailed(ex, Model, Version, PublicText.Scrub(ex.Message));
            }
        }, CancellationToken.None);
    }

    private void LoadLoneSession(CancellationToken token)
    {
        long start = Stopwatch.GetTimestamp();
        var pipeline = _lone!.Load();
        pipeline.WarmUp();
        var engine = pipeline.CreateEngine();
        lock (_loneLock)
        {
            if (token.IsCancellationRequested)
            {
                engine.Dispose();
                pipeline.Dispose();
                return;
            }

            Volatile.Write(ref _lonePipeline, pipeline);
            Volatile.Write(ref _loneEngine, engine);
        }

        var loadTime = Stopwatch.GetElapsedTime(start);
        LogLoneLoaded(Model, Version, _lone.Threads, loadTime.TotalMilliseconds, pipeline.LoadedFromDescription);
    }

    /// <summary>
    /// One step of a slice chain: loads slice <paramref name="index"/> of this sliced version, runs it on the tensors
    /// it names, and releases it, so the step needs only that slice's memory. Takes an engine slot like any run
    /// (behind interactive callers); its time is recorded per slice, and a failure counts against the version.
    /// </summary>
    public async ValueTask<IReadOnlyDictionary<string, (float[] Data, long[] Shape)>> RunSliceAsync(int index, IReadOnlyDictionary<string, (float[] Data, long[] Shape)> inputs, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(inputs);
        var package = (await GetPipelineAsync(cancellationToken)).Package;
        var slices = package.Manifest.Slices ?? throw new InvalidInferenceRequestException($"Model '{Model}' version '{Version}' is not sliced.");
        if (index < 0 || index >= slices.Count)
            throw new InvalidInferenceRequestException($"Model '{Model}' version '{Version}' has {slices.Count} slices; there is no slice {index}.");
        var slice = slices[index];
        await _slots.WaitAsync(InferencePriority.Bulk, cancellationToken);
        try
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            long start = Stopwatch.GetTimestamp();
            IReadOnlyDictionary<string, (float[] Data, long[] Shape)> outputs;
            try
            {
                using var runner = new SlicedModelRunner([(Path.Combine(package.Directory, slice.File), slice)], SliceResidency.OneAtATime, _runtime.CreateSessionOptions);
                outputs = runner.Run(inputs);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                RecordFailure(InferenceMetrics.Errors.Inference);
                throw;
            }

            _metrics?.SliceStepRan(Model, Version, index, Stopwatch.GetElapsedTime(start));
            return outputs;
        }
        finally
        {
            _slots.Release();
        }
    }

    /// <summary>
    /// Scores many tensors. The bundled ResNet-18 (like many exported models) has a fixed batch size of 1, so a
    /// batch is either single runs spread over the pooled engines (the default: measured faster on 2 cores)
    /// or, with <see cref="BatchScoring.DataView"/>, one ML.NET IDataView through the transformer.
    /// </summary>
    public ValueTask<IReadOnlyList<float[]>> ScoreBatchAsync(IReadOnlyList<float[]> tensors, CancellationToken cancellationToken = default) =>
        ScoreBatchAsync(tensors, InferencePriority.Interactive, cancellationToken);

    /// <inheritdoc cref="ScoreBatchAsync(IReadOnlyList{float[]}, CancellationToken)"/>
    public async ValueTask<IReadOnlyList<float[]>> ScoreBatchAsync(IReadOnlyList<float[]> tensors, InferencePriority priority, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(tensors);
        if (tensors.Count == 1)
            return [await ScoreAsync(tensors[0], priority, cancellationToken)];

        if (_batchScoring == BatchScoring.ParallelEngines)
        {
            var results = new float[tensors.Count][];
            var parallel = new ParallelOptions { CancellationToken = cancellationToken, MaxDegreeOfParallelism = Math.Min(_maxEngines, Environment.ProcessorCount) };
            await Parallel.ForAsync(0, tensors.Count, parallel, async (i, ct) => results[i] = await ScoreAsync(tensors[i], priority, ct));
            return results;
        }

        var pipeline = await GetPipelineAsync(cancellationToken);
        await _slots.WaitAsync(priority, cancellationToken);
        try
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            long start = Stopwatch.GetTimestamp();
            IReadOnlyList<float[]> scores;
            try
            {
                using var work = CpuWork.Begin();
                scores = pipeline.ScoreBatch(tensors, cancellationToken);
                Gen0Pacing.AfterRun(_gen0Budget);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                RecordFailure(InferenceMetrics.Errors.Inference, tensors.Count);
                throw;
            }

            // One run for the whole batch: each image is counted with its share of the time.
            var perImage = Stopwatch.GetElapsedTime(start) / tensors.Count;
            for (int i = 0; i < tensors.Count; i++)
                RecordScored(perImage);

            return scores;
        }
        finally
        {
            _slots.Release();
        }
    }

    /// <summary>
    /// Waits for in-flight predictions to return their engines, then releases the model. A version taken out of
    /// service goes through <see cref="RetireAsync"/>, which first waits for every lease; a call after disposal is a
    /// bug and fails with <see cref="ObjectDisposedException"/>.
    /// </summary>
    public async ValueTask DisposeAsync()
    {
        await _loadLock.WaitAsync();
        try
        {
            if (_disposed)
                return;
            _disposed = true;
        }
        finally
        {
            _loadLock.Release();
        }

        // Holding every slot means no engine is in use.
        for (int i = 0; i < _maxEngines; i++)
            await _slots.WaitAsync(InferencePriority.Interactive);

        while (_idle.TryTake(out var engine))
            engine.Dispose();
        _pipeline?.Dispose();
        _pipeline = null;

        // A lone-run session still loading disposes of itself when its load ends; this waits for that.
        await _loneCancel.CancelAsync();
        await _loneLoad;
        lock (_loneLock)
        {
            Interlocked.Exchange(ref _loneEngine, null)?.Dispose();
            _lonePipeline?.Dispose();
            Volatile.Write(ref _lonePipeline, null);
        }

        _loneCancel.Dispose();

        // Let anyone still queued for a slot through, to see the pool is disposed.
        _slots.Release(_maxEngines);
    }

    /// <summary>
    /// Records a warm-up run that ends after the load, under a slot as a run of the pool's own would be, so that it
    /// cannot start the version's background work once the pool is being released.
    /// </summary>
    private async Task RecordWarmUpAsync(Task<TimeSpan> run)
    {
        await ((Task)run).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        if (!run.IsCompletedSuccessfully)
            return; // The readiness check tries a run of its own and reports the failure.
        await _slots.WaitAsync(InferencePriority.Interactive);
        try
        {
            if (!_disposed)
                RecordFirstPrediction(run.Result);
        }
        finally
        {
            _slots.Release();
        }
    }

    private void RecordFirstPrediction(TimeSpan elapsed)
    {
        if (_facts.FirstPredictionTime is not null)
            return;
        bool first = false;
        UpdateFacts(f =>
        {
            if (f.FirstPredictionTime is not null)
                return f;
            first = true;
            return f with { FirstPredictionTime = elapsed };
        });
        if (first)
        {
            LogFirstPrediction(Model, Version, elapsed.TotalMilliseconds);
            StartAfterFirstPrediction(elapsed);
        }
    }

    /// <summary>One image scored: the version's own traffic stats and the app's metrics.</summary>
    private void RecordScored(TimeSpan elapsed)
    {
        Traffic.Record(elapsed);
        _metrics?.Scored(Model, Version, elapsed);
    }

    private void RecordFailure(string errorType, int images = 1)
    {
        Traffic.RecordFailure();
        _metrics?.Failed(Model, Version, errorType, images);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Loaded model {Model} version {Version} in {LoadMs:F0} ms from {Source}")]
    private partial void LogLoaded(string model, string version, double loadMs, string source);

    [LoggerMessage(Level = LogLevel.Error, Message = "Could not load model {Model} version {Version}: {Reason}")]
    private partial void LogLoadFailed(Exception exception, string model, string version, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "Loaded the lone-run session of model {Model} version {Version} ({Threads} threads) in {LoadMs:F0} ms from {Source}")]
    private partial void LogLoneLoaded(string model, string version, int threads, double loadMs, string source);

    [LoggerMessage(Level = LogLevel.Information, Message = "Model {Model} version {Version} ran its first prediction in {FirstRunMs:F1} ms, under {MinMs:F0} ms: no lone-run session for it")]
    private partial void LogNoLoneSession(string model, string version, double firstRunMs, double minMs);

    [LoggerMessage(Level = LogLevel.Information, Message = "Saved model {Model} version {Version} as optimized on this machine, for later loads, in {SaveMs:F0} ms")]
    private partial void LogSavedOptimized(string model, string version, double saveMs);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not load the lone-run session of model {Model} version {Version}; every run uses the pooled engines: {Reason}")]
    private partial void LogLoneFailed(Exception exception, string model, string version, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "First prediction of model {Model} version {Version} took {FirstPredictionMs:F1} ms")]
    private partial void LogFirstPrediction(string model, string version, double firstPredictionMs);
}

/// <summary>
/// A second session of a model version for runs that start while no other run of it is in progress, with
/// <paramref name="Threads"/> intra-op threads (see <see cref="OnnxRuntimeOptions.LoneRunThreads"/>); loaded by
/// <paramref name="Load"/>, <see cref="EnginePoolOptions.LoneSessionDelay"/> after the version's first prediction, so that it stays off the
/// cold start's path; only when that first prediction took at least <paramref name="MinFirstRun"/>.
/// </summary>
public sealed record LoneSession(Func<InferencePipeline> Load, int Threads, TimeSpan MinFirstRun = default);

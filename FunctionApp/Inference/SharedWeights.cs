using System.IO.MemoryMappedFiles;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using Onnx;

namespace FunctionApp.Inference;

/// <summary>
/// The weights of a model saved with its weights in one file beside it (an optimized-model cache entry, a prepared
/// model), mapped once for every session loaded from it and handed to each as its initializers
/// (<see cref="SessionOptions.AddInitializer"/>), so that ONNX Runtime reads them from that one mapping instead of
/// mapping each weight again for each session. Each mapping of a file's page counts in the process's resident memory,
/// so a model's lone-run session beside its pooled one doubled it (ResNet-18, about 60 MB; SqueezeNet about 5 MB).
/// Taken with <see cref="Acquire"/> and given back by disposing the lease, after the sessions that use it are disposed.
/// </summary>
public sealed class SharedWeights
{
    private static readonly Dictionary<string, SharedWeights> Open = new(StringComparer.Ordinal);
    private static readonly Lock OpenLock = new();

    private readonly string _key;
    private readonly MemoryMappedFile _file;
    private readonly MemoryMappedViewAccessor _view;
    private readonly List<(string Name, OrtValue Value)> _initializers = [];
    private bool _viewHeld;
    private int _leases;

    private SharedWeights(string key, string weightsPath, IReadOnlyList<(TensorProto Tensor, long Offset, long Length)> tensors)
    {
        _key = key;
        _file = MemoryMappedFile.CreateFromFile(weightsPath, FileMode.Open, mapName: null, capacity: 0, MemoryMappedFileAccess.Read);
        try
        {
            _view = _file.CreateViewAccessor(0, 0, MemoryMappedFileAccess.Read);
            _view.SafeMemoryMappedViewHandle.DangerousAddRef(ref _viewHeld);
            nint start = _view.SafeMemoryMappedViewHandle.DangerousGetHandle() + (nint)_view.PointerOffset;
            foreach (var (tensor, offset, length) in tensors)
            {
                var value = OrtValue.CreateTensorValueWithData(OrtMemoryInfo.DefaultInstance, (TensorElementType)tensor.DataType, [.. tensor.Dims], start + (nint)offset, length);
                _initializers.Add((tensor.Name, value));
            }
        }
        catch
        {
            Release();
            throw;
        }
    }

    /// <summary>Gives ONNX Runtime the mapped weights as the session's initializers.</summary>
    public void AddTo(SessionOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        foreach (var (name, value) in _initializers)
            options.AddInitializer(name, value);
    }

    /// <summary>
    /// The mapping of the weights of the model at <paramref name="modelPath"/>, shared with every other lease on the same
    /// file; null when the model does not keep all its weights in one file beside it (weights inside the graph, several
    /// files, a type or layout this cannot hand over): ONNX Runtime then reads them itself, as it otherwise would.
    /// </summary>
    public static Lease? Acquire(string modelPath)
    {
        ArgumentNullException.ThrowIfNull(modelPath);
        string? key = Key(modelPath);
        if (key is null)
            return null;
        lock (OpenLock)
        {
            if (!Open.TryGetValue(key, out var weights))
            {
                if (Describe(modelPath) is not { } described)
                    return null;
                weights = new SharedWeights(key, described.WeightsPath, described.Tensors);
                Open[key] = weights;
            }

            weights._leases++;
            return new Lease(weights);
        }
    }

    /// <summary>The file's path, size and time: a file written again under the same name is another mapping.</summary>
    private static string? Key(string modelPath)
    {
        var model = new FileInfo(modelPath);
        var weights = new FileInfo(Path.Combine(model.DirectoryName ?? ".", OptimizedModelCache.WeightsFile));
        if (!model.Exists || !weights.Exists)
            return null;
        return string.Join('|', model.FullName, model.Length, model.LastWriteTimeUtc.Ticks, weights.Length, weights.LastWriteTimeUtc.Ticks);
    }

    /// <summary>The graph's external initializers, every one in the weights file beside it and inside its bounds.</summary>
    private static (string WeightsPath, List<(TensorProto, long, long)> Tensors)? Describe(string modelPath)
    {
        ModelProto model;
        try
        {
            using var stream = File.OpenRead(modelPath);
            model = ModelProto.Parser.ParseFrom(stream);
        }
        catch (Exception ex) when (ex is IOException or Google.Protobuf.InvalidProtocolBufferException)
        {
            return null;
        }

        string weightsPath = Path.Combine(Path.GetDirectoryName(Path.GetFullPath(modelPath))!, OptimizedModelCache.WeightsFile);
        long size = new FileInfo(weightsPath).Length;
        var tensors = new List<(TensorProto, long, long)>();
        foreach (var tensor in model.Graph?.Initializer ?? [])
        {
            // Small weights stay inside the graph, which ONNX Runtime reads anyway.
            if (tensor.DataLocation != TensorProto.Types.DataLocation.External)
                continue;
            if (ElementBytes(tensor.DataType) == 0)
                return null;
            var entries = tensor.ExternalData.ToDictionary(e => e.Key, e => e.Value, StringComparer.Ordinal);
            if (!entries.TryGetValue("location", out var location) || location != OptimizedModelCache.WeightsFile
                || !long.TryParse(entries.GetValueOrDefault("offset", "0"), out long offset)
                || !entries.TryGetValue("length", out var lengthText) || !long.TryParse(lengthText, out long length)
                || offset < 0 || length <= 0 || offset > size - length
                || length != tensor.Dims.Aggregate(1L, (a, b) => a * b) * ElementBytes(tensor.DataType))
                return null;
            tensors.Add((tensor, offset, length));
        }

        return tensors.Count == 0 ? null : (weightsPath, tensors);
    }

    /// <summary>Bytes per element of the numeric types ONNX Runtime takes from memory as they are; 0 for the others.</summary>
    private static int ElementBytes(int type) => (TensorProto.Types.DataType)type switch
    {
        TensorProto.Types.DataType.Float or TensorProto.Types.DataType.Int32 or TensorProto.Types.DataType.Uint32 => 4,
        TensorProto.Types.DataType.Uint8 or TensorProto.Types.DataType.Int8 or TensorProto.Types.DataType.Bool => 1,
        TensorProto.Types.DataType.Int16 or TensorProto.Types.DataType.Uint16 or TensorProto.Types.DataType.Float16 or TensorProto.Types.DataType.Bfloat16 => 2,
        TensorProto.Types.DataType.Int64 or TensorProto.Types.DataType.Uint64 or TensorProto.Types.DataType.Double => 8,
        _ => 0,
    };

    private void Release()
    {
        foreach (var (_, value) in _initializers)
            value.Dispose();
        _initializers.Clear();
        if (_viewHeld)
            _view.SafeMemoryMappedViewHandle.DangerousRelease();
        _viewHeld = false;
        _view?.Dispose();
        _file.Dispose();
    }

    /// <summary>One holder's claim on a mapping; the last one given back unmaps the file.</summary>
    public sealed class Lease : IDisposable
    {
        private SharedWeights? _weights;

        internal Lease(SharedWeights weights) => _weights = weights;

        public SharedWeights Weights => _weights ?? throw new ObjectDisposedException(nameof(Lease));

        public void Dispose()
        {
            var weights = Interlocked.Exchange(ref _weights, null);
            if (weights is null)
                return;
            lock (OpenLock)
            {
                if (--weights._leases > 0)
                    return;
                Open.Remove(weights._key);
                weights.Release();
            }
        }
    }
}

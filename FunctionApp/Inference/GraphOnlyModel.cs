using System.Buffers;
using System.Runtime.InteropServices;
using System.Text;

namespace FunctionApp.Inference;

/// <summary>
/// Writes the graph of an ONNX model without its weights: every large weight (an initializer's <c>raw_data</c>) becomes
/// ONNX external data that points at the bytes where they already lie, inside the original file. ONNX Runtime then
/// reads the weights from the original file as before, while a reader that parses the whole graph with protobuf
/// (ML.NET's <c>ApplyOnnxModel</c> does, to learn the graph's types) parses a file of a few hundred kilobytes instead of
/// copying every weight onto the managed heap. The rewrite reads only the graph's structure and skips the weights, so
/// it costs milliseconds; nothing in the original file changes.
/// </summary>
public static class GraphOnlyModel
{
    /// <summary>
    /// A graph-only view of <paramref name="modelPath"/> for ONNX Runtime and ML.NET to load, in a folder of its own under
    /// the temporary folder: the rewritten graph, and beside it the original file's bytes, hard-linked where the file
    /// system allows (free) or copied (a few tens of milliseconds for a 60 MB model, still far cheaper than parsing its
    /// weights with protobuf). ONNX Runtime only reads external data from the model's own folder, with links resolved,
    /// which is why the bytes are placed there rather than pointed at. When the model has no large weights inside it,
    /// or anything fails, the view is the original file itself. Dispose it once the model is loaded.
    /// </summary>
    /// <param name="viewsRoot">Where the view's folder goes; the system's temporary folder by default.</param>
    public static View Prepare(string modelPath, string? viewsRoot = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(modelPath);
        string root = viewsRoot ?? Path.Combine(Path.GetTempPath(), "functionapp-onnx");
        string folder = Path.Combine(root, Guid.NewGuid().ToString("N"));
        RemoveStale(root);
        try
        {
            Directory.CreateDirectory(folder);
            const string weights = "weights.bin";
            string graph = Path.Combine(folder, "graph.onnx");
            if (Write(modelPath, graph, weights) == 0)
            {
                Remove(folder);
                return new View(modelPath, null);
            }

            string target = Path.Combine(folder, weights);
            if (!TryHardLink(Path.GetFullPath(modelPath), target))
                File.Copy(modelPath, target);
            return new View(graph, folder);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or InvalidDataException)
        {
            Remove(folder);
            return new View(modelPath, null);
        }
    }

    /// <summary>A view lives only while a model loads; one older than this was left by a process that was killed.</summary>
    private static readonly TimeSpan StaleAfter = TimeSpan.FromMinutes(10);

    private static void RemoveStale(string root)
    {
        try
        {
            if (!Directory.Exists(root))
                return;
            foreach (var stale in new DirectoryInfo(root).EnumerateDirectories().Where(d => DateTime.UtcNow - d.LastWriteTimeUtc > StaleAfter))
                DeleteFolder(stale.FullName);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // Someone else's folder, or one being removed: not this load's concern.
        }
    }

    /// <summary>The file to load, and the folder to remove afterwards (none when it is the original model).</summary>
    public sealed class View(string path, string? folder) : IDisposable
    {
        public string Path { get; } = path;

        /// <summary>True when <see cref="Path"/> is a graph-only copy rather than the model itself.</summary>
        public bool IsGraphOnly => folder is not null;

        /// <summary>Removes the copy. On Linux an open file may be removed, so this is safe once ONNX Runtime has loaded it.</summary>
        public void Dispose()
        {
            if (folder is not null)
                Remove(folder);
        }
    }

    /// <summary>Deletes a view's folder, and the shared parent too once no view is left in it.</summary>
    private static void Remove(string folder)
    {
        DeleteFolder(folder);
        try
        {
            Directory.Delete(Path.GetDirectoryName(folder)!);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // Another load's view is still there (removing a folder that is not empty fails).
        }
    }

    /// <summary>Deletes a folder and what it holds, if it can; one still in use or already gone is left as it is.</summary>
    internal static void DeleteFolder(string folder)
    {
        try
        {
            if (Directory.Exists(folder))
                Directory.Delete(folder, recursive: true);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // Windows keeps files that are open; the temporary folder is the system's to clean then.
        }
    }

    private static bool TryHardLink(string existing, string created)
    {
        if (!OperatingSystem.IsLinux() && !OperatingSystem.IsMacOS())
            return false;
        try
        {
            return link(existing, created) == 0;
        }
        catch (Exception ex) when (ex is DllNotFoundException or EntryPointNotFoundException)
        {
            return false;
        }
    }

    [DllImport("libc", EntryPoint = "link", CharSet = CharSet.Ansi, BestFitMapping = false, ThrowOnUnmappableChar = true)]
    private static extern int link(string existing, string created);

    /// <summary>Weights smaller than this stay in the graph.</summary>
    public const int MinExternalBytes = 4096;

    // Field numbers of onnx.proto (ModelProto.graph, GraphProto.initializer, TensorProto.raw_data/external_data/data_location).
    private const int ModelGraph = 7;
    private const int GraphInitializer = 5;
    private const int TensorFloatData = 4;
    private const int TensorInt64Data = 7;
    private const int TensorRawData = 9;
    private const int TensorDoubleData = 10;
    private const int TensorUint64Data = 11;
    private const int TensorExternalData = 13;
    private const int TensorDataLocation = 14;
    private const int EntryKey = 1;
    private const int EntryValue = 2;
    private const int LengthDelimited = 2;

    /// <summary>
    /// Writes <paramref name="graphPath"/>, whose weights refer to <paramref name="weightsLocation"/> (a path relative
    /// to the graph file's folder, which must name the original model's bytes). Returns how many bytes of weights moved
    /// out of the graph, or 0 when the model has nothing worth moving (or already keeps its weights outside it), in which
    /// case no file is written.
    /// </summary>
    public static long Write(string modelPath, string graphPath, string weightsLocation)
    {
        ArgumentException.ThrowIfNullOrEmpty(modelPath);
        ArgumentException.ThrowIfNullOrEmpty(graphPath);
        ArgumentException.ThrowIfNullOrEmpty(weightsLocation);
        using var source = new FileStream(modelPath, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 1 << 16);
        var model = new MemoryStream();
        long moved = 0;
        var reader = new WireReader(source);
        while (reader.TryReadTag(out int field, out int wireType))
        {
            if (field == ModelGraph && wireType == LengthDelimited)
            {
                long length = reader.ReadLength();
                var graph = RewriteGraph(reader, reader.Position + length, weightsLocation, ref moved);
                if (graph is null)
                    return 0;
                WireWriter.WriteTag(model, field, LengthDelimited);
                WireWriter.WriteBytes(model, graph.GetBuffer().AsSpan(0, (int)graph.Length));
            }
            else
            {
                reader.CopyField(field, wireType, model);
            }
        }

        if (moved == 0)
            return 0;
        using (var target = new FileStream(graphPath, FileMode.CreateNew, FileAccess.Write, FileShare.None))
            target.Write(model.GetBuffer().AsSpan(0, (int)model.Length));
        return moved;
    }

    private static MemoryStream? RewriteGraph(WireReader reader, long end, string location, ref long moved)
    {
        var graph = new MemoryStream();
        while (reader.Position < end)
        {
            reader.TryReadTag(out int field, out int wireType);
            if (field == GraphInitializer && wireType == LengthDelimited)
            {
                long length = reader.ReadLength();
                var tensor = RewriteTensor(reader, reader.Position + length, location, ref moved);
                if (tensor is null)
                    return null;
                WireWriter.WriteTag(graph, field, LengthDelimited);
                WireWriter.WriteBytes(graph, tensor.GetBuffer().AsSpan(0, (int)tensor.Length));
            }
            else
            {
                reader.CopyField(field, wireType, graph);
            }
        }

        return graph;
    }

    /// <summary>
    /// The initializer with its weights replaced by a reference to the same bytes, when they are one block of at least
    /// <see cref="MinExternalBytes"/>: <c>raw_data</c>, or packed <c>float_data</c> (little-endian floats, the bytes
    /// <c>raw_data</c> would hold). Any other initializer is copied as it is. Null if it keeps its data outside already.
    /// </summary>
    private static MemoryStream? RewriteTensor(WireReader reader, long end, string location, ref long moved)
    {
        long start = reader.Position;
        int dataFields = 0;
        long dataTag = -1, dataOffset = 0, dataLength = 0;
        while (reader.Position < end)
        {
            long tag = reader.Position;
            reader.TryReadTag(out int field, out int wireType);
            if (field is TensorExternalData or TensorDataLocation)
                return null;
            if (field is >= TensorFloatData and <= TensorInt64Data or TensorRawData or TensorDoubleData or TensorUint64Data)
            {
                dataFields++;
                if (wireType == LengthDelimited && field is TensorRawData or TensorFloatData)
                {
                    dataTag = tag;
                    dataLength = reader.ReadLength();
                    dataOffset = reader.Position;
                    reader.Skip(dataLength);
                    continue;
                }
            }

            reader.SkipField(wireType);
        }

        var tensor = new MemoryStream();
        reader.Seek(start);
        bool external = dataFields == 1 && dataTag >= 0 && dataLength >= MinExternalBytes;
        while (reader.Position < end)
        {
            bool isData = reader.Position == dataTag;
            reader.TryReadTag(out int field, out int wireType);
            if (external && isData)
            {
                reader.Skip(reader.ReadLength());
                WriteEntry(tensor, "location", location);
                WriteEntry(tensor, "offset", dataOffset.ToString(System.Globalization.CultureInfo.InvariantCulture));
                WriteEntry(tensor, "length", dataLength.ToString(System.Globalization.CultureInfo.InvariantCulture));
                WireWriter.WriteTag(tensor, TensorDataLocation, 0);
                WireWriter.WriteVarint(tensor, 1); // EXTERNAL
                moved += dataLength;
            }
            else
            {
                reader.CopyField(field, wireType, tensor);
            }
        }

        return tensor;
    }

    private static void WriteEntry(MemoryStream tensor, string key, string value)
    {
        var entry = new MemoryStream();
        WireWriter.WriteTag(entry, EntryKey, LengthDelimited);
        WireWriter.WriteBytes(entry, Encoding.UTF8.GetBytes(key));
        WireWriter.WriteTag(entry, EntryValue, LengthDelimited);
        WireWriter.WriteBytes(entry, Encoding.UTF8.GetBytes(value));
        WireWriter.WriteTag(tensor, TensorExternalData, LengthDelimited);
        WireWriter.WriteBytes(tensor, entry.GetBuffer().AsSpan(0, (int)entry.Length));
    }

    /// <summary>Reads protobuf's wire format from a seekable stream, field by field.</summary>
    private sealed class WireReader(Stream stream)
    {
        public long Position => stream.Position;

        public bool TryReadTag(out int field, out int wireType)
        {
            if (stream.Position >= stream.Length)
            {
                field = wireType = 0;
                return false;
            }

            ulong tag = ReadVarint();
            field = (int)(tag >> 3);
            wireType = (int)(tag & 7);
            if (field <= 0)
                throw new InvalidDataException("The ONNX file holds a field numbered 0.");
            return true;
        }

        public long ReadLength()
        {
            ulong length = ReadVarint();
            if (length > (ulong)(stream.Length - stream.Position))
                throw new InvalidDataException("The ONNX file ends inside a field.");
            return (long)length;
        }

        public ulong ReadVarint()
        {
            ulong value = 0;
            for (int shift = 0; shift < 64; shift += 7)
            {
                int b = stream.ReadByte();
                if (b < 0)
                    throw new InvalidDataException("The ONNX file ends inside a number.");
                value |= (ulong)(b & 0x7F) << shift;
                if ((b & 0x80) == 0)
                    return value;
            }

            throw new InvalidDataException("The ONNX file holds a malformed number.");
        }

        public void Skip(long count) => stream.Seek(count, SeekOrigin.Current);

        public void Seek(long position) => stream.Seek(position, SeekOrigin.Begin);

        /// <summary>Skips the value of the field whose tag was just read.</summary>
        public void SkipField(int wireType)
        {
            switch (wireType)
            {
                case 0:
                    ReadVarint();
                    break;
                case 1:
                    Skip(8);
                    break;
                case LengthDelimited:
                    Skip(ReadLength());
                    break;
                case 5:
                    Skip(4);
                    break;
                default:
                    throw new InvalidDataException($"The ONNX file holds a field of wire type {wireType}, which ONNX does not use.");
            }
        }

        public void CopyBytes(long count, Stream target)
        {
            var buffer = ArrayPool<byte>.Shared.Rent(1 << 16);
            try
            {
                while (count > 0)
                {
                    int read = stream.Read(buffer, 0, (int)Math.Min(buffer.Length, count));
                    if (read == 0)
                        throw new InvalidDataException("The ONNX file ends inside a field.");
                    target.Write(buffer, 0, read);
                    count -= read;
                }
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(buffer);
            }
        }

        /// <summary>Copies the field whose tag was just read, as it is.</summary>
        public void CopyField(int field, int wireType, Stream target)
        {
            WireWriter.WriteTag(target, field, wireType);
            switch (wireType)
            {
                case 0:
                    WireWriter.WriteVarint(target, ReadVarint());
                    break;
                case 1:
                    CopyBytes(8, target);
                    break;
                case LengthDelimited:
                    long length = ReadLength();
                    WireWriter.WriteVarint(target, (ulong)length);
                    CopyBytes(length, target);
                    break;
                case 5:
                    CopyBytes(4, target);
                    break;
                default:
                    throw new InvalidDataException($"The ONNX file holds a field of wire type {wireType}, which ONNX does not use.");
            }
        }
    }

    private static class WireWriter
    {
        public static void WriteTag(Stream target, int field, int wireType) => WriteVarint(target, ((ulong)field << 3) | (uint)wireType);

        public static void WriteVarint(Stream target, ulong value)
        {
            while (value >= 0x80)
            {
                target.WriteByte((byte)(value | 0x80));
                value >>= 7;
            }

            target.WriteByte((byte)value);
        }

        public static void WriteBytes(Stream target, ReadOnlySpan<byte> bytes)
        {
            WriteVarint(target, (ulong)bytes.Length);
            target.Write(bytes);
        }
    }
}

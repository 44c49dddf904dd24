// Baseline "mlnet-classic": image classification the way the official ML.NET samples do it.
//   ASP.NET Core minimal API + ML.NET pipeline built with MLContext:
//   MLImage.CreateFromStream -> ResizeImages(224x224) -> ExtractPixels -> [normalize] -> ApplyOnnxModel,
//   served through a pool of PredictionEngines (PredictionEngine is not thread-safe).
//
// Usage: MlnetClassic --port 5001 --model /path/model.onnx --mode squeezenet|resnet [--labels imagenet_labels.txt]
//   squeezenet: BGR, 0..255 raw, NCHW (SqueezeNet 1.0 from the ONNX model zoo; output = probabilities)
//   resnet:     RGB/255 normalized with ImageNet mean/std, NCHW (output = 512 features; "labels" are feature_i)
using System.Text.Json.Serialization;
using Microsoft.Extensions.ObjectPool;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.Transforms.Image;

var opts = Args.Parse(args);

// Discover the ONNX input/output node names, so any model with one image input and one output works.
string inputName, outputName;
using (var probe = new InferenceSession(opts.ModelPath))
{
    inputName = probe.InputMetadata.Keys.First();
    outputName = probe.OutputMetadata.Keys.First();
}

var mlContext = new MLContext(seed: 0);
var emptyData = mlContext.Data.LoadFromEnumerable(new List<ImageInput>());

IEstimator<ITransformer> pipeline = mlContext.Transforms.ResizeImages(
    outputColumnName: "resized", imageWidth: Pre.Size, imageHeight: Pre.Size,
    inputColumnName: nameof(ImageInput.Image));

if (opts.Mode == "squeezenet")
{
    // BGR, raw 0..255, planar (NCHW)
    pipeline = pipeline.Append(mlContext.Transforms.ExtractPixels(
        outputColumnName: inputName, inputColumnName: "resized",
        colorsToExtract: ImagePixelExtractingEstimator.ColorBits.Rgb,
        orderOfExtraction: ImagePixelExtractingEstimator.ColorsOrder.ABGR,
        interleavePixelColors: false, offsetImage: 0f, scaleImage: 1f, outputAsFloatArray: true));
}
else
{
    // RGB scaled to 0..1, planar; then per-channel ImageNet mean/std (ExtractPixels only has one scalar offset/scale).
    pipeline = pipeline
        .Append(mlContext.Transforms.ExtractPixels(
            outputColumnName: nameof(PixelsIn.Pixels), inputColumnName: "resized",
            colorsToExtract: ImagePixelExtractingEstimator.ColorBits.Rgb,
            orderOfExtraction: ImagePixelExtractingEstimator.ColorsOrder.ARGB,
            interleavePixelColors: false, offsetImage: 0f, scaleImage: 1f / 255f, outputAsFloatArray: true))
        .Append(mlContext.Transforms.CustomMapping<PixelsIn, PixelsOut>(
            Pre.NormalizeImageNet, contractName: null,
            outputSchemaDefinition: Pre.RenamedSchema<PixelsOut>(nameof(PixelsOut.Normalized), inputName)));
}

pipeline = pipeline.Append(mlContext.Transforms.ApplyOnnxModel(
    outputColumnNames: new[] { outputName }, inputColumnNames: new[] { inputName }, modelFile: opts.ModelPath));

ITransformer model = pipeline.Fit(emptyData);

// Output class Scores is mapped to the model's output column without copying it.
var outputSchema = SchemaDefinition.Create(typeof(ScoresOut));
outputSchema[nameof(ScoresOut.Scores)].ColumnName = outputName;

var pool = new DefaultObjectPool<PredictionEngine<ImageInput, ScoresOut>>(
    new EnginePolicy(() => mlContext.Model.CreatePredictionEngine<ImageInput, ScoresOut>(
        model, ignoreMissingColumns: true, outputSchemaDefinition: outputSchema)),
    Environment.ProcessorCount * 4);

string[] labels = opts.LabelsPath is not null ? File.ReadAllLines(opts.LabelsPath) : Array.Empty<string>();
bool useLabels = opts.Mode == "squeezenet" && labels.Length > 0;

// Warm up: create a few engines and run each once on a synthetic image.
{
    var warm = new List<PredictionEngine<ImageInput, ScoresOut>>();
    for (int i = 0; i < Environment.ProcessorCount; i++) warm.Add(pool.Get());
    foreach (var e in warm)
    {
        using var img = MLImage.CreateFromPixels(256, 256, MLPixelFormat.Bgra32, new byte[256 * 256 * 4]);
        e.Predict(new ImageInput { Image = img });
        pool.Return(e);
    }
}

var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = Array.Empty<string>() });
builder.Logging.ClearProviders();
builder.WebHost.UseUrls($"http://127.0.0.1:{opts.Port}");
builder.WebHost.ConfigureKestrel(k => k.Limits.MaxRequestBodySize = 64L * 1024 * 1024);
builder.Services.ConfigureHttpJsonOptions(o => o.SerializerOptions.TypeInfoResolverChain.Insert(0, AppJsonContext.Default));
var app = builder.Build();

app.MapGet("/health", () => Results.Ok(new HealthResponse("ok", opts.Mode, Path.GetFileName(opts.ModelPath))));

app.MapPost("/predict", async (HttpRequest request) =>
{
    using var body = new MemoryStream();
    await request.Body.CopyToAsync(body);
    if (body.Length == 0) return Results.BadRequest(new ErrorResponse("empty body"));
    body.Position = 0;

    MLImage image;
    try { image = MLImage.CreateFromStream(body); }
    catch (Exception ex) { return Results.BadRequest(new ErrorResponse("cannot decode image: " + ex.Message)); }

    float[] scores;
    using (image)
    {
        var engine = pool.Get();
        try { scores = engine.Predict(new ImageInput { Image = image }).Scores; }
        finally { pool.Return(engine); }
    }

    return Results.Ok(new PredictResponse(Pre.Top(scores, 5, i => useLabels && i < labels.Length ? labels[i] : $"feature_{i}")));
});

Console.WriteLine($"mlnet-classic listening on http://127.0.0.1:{opts.Port} mode={opts.Mode} model={opts.ModelPath} input={inputName} output={outputName}");
app.Run();

// ---------------------------------------------------------------------------------------------

public sealed class ImageInput
{
    [ImageType(Pre.Size, Pre.Size)]
    public MLImage? Image { get; set; }
}

public sealed class ScoresOut
{
    public float[] Scores { get; set; } = Array.Empty<float>();
}

public sealed class PixelsIn
{
    [VectorType(3 * Pre.Size * Pre.Size)]
    public float[] Pixels { get; set; } = Array.Empty<float>();
}

public sealed class PixelsOut
{
    [VectorType(3 * Pre.Size * Pre.Size)]
    public float[] Normalized { get; set; } = Array.Empty<float>();
}

sealed class EnginePolicy(Func<PredictionEngine<ImageInput, ScoresOut>> create)
    : PooledObjectPolicy<PredictionEngine<ImageInput, ScoresOut>>
{
    public override PredictionEngine<ImageInput, ScoresOut> Create() => create();
    public override bool Return(PredictionEngine<ImageInput, ScoresOut> obj) => true;
}

static class Pre
{
    public const int Size = 224;
    static readonly float[] Mean = { 0.485f, 0.456f, 0.406f };
    static readonly float[] Std = { 0.229f, 0.224f, 0.225f };

    public static void NormalizeImageNet(PixelsIn src, PixelsOut dst)
    {
        const int plane = Size * Size;
        var p = src.Pixels;
        var o = dst.Normalized.Length == p.Length ? dst.Normalized : new float[p.Length];
        for (int c = 0; c < 3; c++)
        {
            float m = Mean[c], inv = 1f / Std[c];
            int off = c * plane;
            for (int i = 0; i < plane; i++) o[off + i] = (p[off + i] - m) * inv;
        }
        dst.Normalized = o;
    }

    public static SchemaDefinition RenamedSchema<T>(string member, string column)
    {
        var def = SchemaDefinition.Create(typeof(T));
        def[member].ColumnName = column;
        return def;
    }

    public static List<TopEntry> Top(float[] scores, int k, Func<int, string> label)
    {
        var idx = new int[Math.Min(k, scores.Length)];
        var best = new float[idx.Length];
        for (int j = 0; j < idx.Length; j++) { idx[j] = -1; best[j] = float.NegativeInfinity; }
        for (int i = 0; i < scores.Length; i++)
        {
            float s = scores[i];
            if (s <= best[^1]) continue;
            int pos = idx.Length - 1;
            while (pos > 0 && s > best[pos - 1]) { best[pos] = best[pos - 1]; idx[pos] = idx[pos - 1]; pos--; }
            best[pos] = s; idx[pos] = i;
        }
        var list = new List<TopEntry>(idx.Length);
        for (int j = 0; j < idx.Length; j++) list.Add(new TopEntry(idx[j], label(idx[j]), best[j]));
        return list;
    }
}

sealed record Args(int Port, string ModelPath, string Mode, string? LabelsPath)
{
    public static Args Parse(string[] a)
    {
        int port = 5001; string? model = null; string mode = "squeezenet"; string? labels = null;
        for (int i = 0; i < a.Length; i++)
        {
            string Next() => i + 1 < a.Length ? a[++i] : throw new ArgumentException($"missing value for {a[i]}");
            switch (a[i])
            {
                case "--port": port = int.Parse(Next()); break;
                case "--model": model = Next(); break;
                case "--mode": mode = Next(); break;
                case "--labels": labels = Next(); break;
                default: throw new ArgumentException($"unknown argument {a[i]}");
            }
        }
        if (model is null) throw new ArgumentException("--model is required");
        if (mode is not ("squeezenet" or "resnet")) throw new ArgumentException("--mode must be squeezenet or resnet");
        return new Args(port, model, mode, labels);
    }
}

public sealed record TopEntry(
    [property: JsonPropertyName("index")] int Index,
    [property: JsonPropertyName("label")] string Label,
    [property: JsonPropertyName("score")] float Score);
public sealed record PredictResponse([property: JsonPropertyName("top")] List<TopEntry> Top);
public sealed record HealthResponse(
    [property: JsonPropertyName("status")] string Status,
    [property: JsonPropertyName("mode")] string Mode,
    [property: JsonPropertyName("model")] string Model);
public sealed record ErrorResponse([property: JsonPropertyName("error")] string Error);

[JsonSerializable(typeof(PredictResponse))]
[JsonSerializable(typeof(HealthResponse))]
[JsonSerializable(typeof(ErrorResponse))]
internal partial class AppJsonContext : System.Text.Json.Serialization.JsonSerializerContext { }

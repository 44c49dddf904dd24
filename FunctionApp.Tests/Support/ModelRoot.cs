namespace FunctionApp.Tests.Support;

/// <summary>
/// A models root for API tests: <c>tiny-cnn</c> versions 1 and 2 (the default model; 2 is newest) and
/// <c>broken</c> version 1, whose ONNX file is not a model, so loading it fails.
/// </summary>
public sealed class ModelRoot : IDisposable
{
    private readonly TempDirectory _temp = new();

    public ModelRoot()
    {
        TinyCnn.WritePackage(Path.Combine(Root, "tiny-cnn", "1"));
        var v2 = TinyCnn.WritePackage(Path.Combine(Root, "tiny-cnn", "2"));
        File.WriteAllText(Path.Combine(v2, "model.json"), File.ReadAllText(Path.Combine(v2, "model.json")).Replace("\"version\": \"1\"", "\"version\": \"2\"", StringComparison.Ordinal));
        var broken = TinyCnn.WritePackage(Path.Combine(Root, "broken", "1"));
        File.WriteAllText(Path.Combine(broken, "model.json"), File.ReadAllText(Path.Combine(broken, "model.json")).Replace("\"tiny-cnn\"", "\"broken\"", StringComparison.Ordinal));
        File.WriteAllText(Path.Combine(broken, "tiny.onnx"), "not a model");
    }

    public string Root => Path.Combine(_temp.Path, "models");

    public Dictionary<string, string?> Settings(long maxImageBytes = 1_000_000) => new()
    {
        ["Models:Root"] = Root,
        ["Models:Default"] = "tiny-cnn",
        ["OnnxRuntime:IntraOpThreads"] = "1",
        ["ImageLimits:MaxBytes"] = maxImageBytes.ToString(System.Globalization.CultureInfo.InvariantCulture),
        ["Api:RetryAfterSeconds"] = "7",
    };

    public void Dispose() => _temp.Dispose();
}

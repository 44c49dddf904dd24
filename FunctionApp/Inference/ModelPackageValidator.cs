using Microsoft.ML.OnnxRuntime;

namespace FunctionApp.Inference;

/// <summary>What checking a package found: every problem, and when there is none, the package, its graph's signature and one inference's scores.</summary>
public sealed record PackageValidation(string Directory, IReadOnlyList<string> Problems, ModelPackage? Package = null, OnnxSignature? Signature = null, float[]? Scores = null)
{
    public bool IsValid => Problems.Count == 0;
}

/// <summary>
/// Checks a model package and reports every problem at once: the manifest, the files it names, the labels, the version
/// its folder implies, and the manifest against the ONNX graph's true inputs and outputs. When all of that passes, it
/// builds the pipeline (which checks the head) and runs one inference.
/// </summary>
public static class ModelPackageValidator
{
    public static PackageValidation Validate(string directory, OnnxRuntimeOptions runtime, float[]? probe = null)
    {
        ArgumentNullException.ThrowIfNull(runtime);
        var inspected = ModelPackage.Inspect(directory);
        var problems = inspected.Problems.ToList();
        if (inspected.Manifest is not { } manifest)
            return new PackageValidation(inspected.Directory, problems);

        if (ModelPackage.FolderVersion(inspected.Directory, manifest.Name) is { } folderVersion && folderVersion != manifest.Version)
            problems.Add(ModelPackage.VersionMismatch(manifest.Version, folderVersion));

        try
        {
            var signature = InferencePipeline.ReadSignature(inspected.Directory, manifest);
            problems.AddRange(InferencePipeline.CheckSignature(manifest, signature));
        }
        catch (Exception ex) when (ex is IOException or InvalidDataException or Google.Protobuf.InvalidProtocolBufferException)
        {
            // A missing file is reported above already.
            if (ex is not FileNotFoundException)
                problems.Add($"onnxFile '{manifest.OnnxFile}' is not a readable ONNX model: {ex.Message}");
        }

        if (problems.Count > 0)
            return new PackageValidation(inspected.Directory, problems);

        var package = ModelPackage.Open(inspected.Directory);
        try
        {
            using var pipeline = InferencePipeline.Create(package, runtime);
            using var engine = pipeline.CreateEngine();
            var scores = engine.Predict(new TensorInput { Pixels = probe ?? new float[manifest.Preprocessing.TensorLength] }).Scores;
            if (scores.Length != package.Labels.Count)
                problems.Add($"one inference produced {scores.Length} scores for {package.Labels.Count} labels");
            return new PackageValidation(inspected.Directory, problems, package, pipeline.Signature, scores);
        }
        catch (ModelPackageException ex)
        {
            return new PackageValidation(inspected.Directory, [.. problems, .. ex.Problems]);
        }
        catch (OnnxRuntimeException ex)
        {
            return new PackageValidation(inspected.Directory, [.. problems, $"one inference failed: {ex.Message}"]);
        }
    }
}

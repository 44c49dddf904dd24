namespace FunctionApp.Inference;

/// <summary>A model package that cannot be used, with every problem found, each naming what is wrong.</summary>
public sealed class ModelPackageException : Exception
{
    public ModelPackageException(string directory, IReadOnlyList<string> problems)
        : base(Format(directory, problems))
    {
        Directory = directory;
        Problems = problems;
    }

    public ModelPackageException()
        : this(string.Empty, ["The model package is not valid."])
    {
    }

    public ModelPackageException(string message)
        : this(string.Empty, [message])
    {
    }

    public ModelPackageException(string message, Exception innerException)
        : base(message, innerException)
    {
        Directory = string.Empty;
        Problems = [message];
    }

    public string Directory { get; }

    public IReadOnlyList<string> Problems { get; }

    /// <summary>A package is named by its model and version folders (<c>{name}/{version}</c>), not by where it lives.</summary>
    public static string PackageName(string directory)
    {
        if (string.IsNullOrEmpty(directory))
            return "(unnamed)";
        var trimmed = directory.TrimEnd('/', '\\');
        var version = System.IO.Path.GetFileName(trimmed);
        var model = System.IO.Path.GetFileName(System.IO.Path.GetDirectoryName(trimmed));
        return string.IsNullOrEmpty(model) ? version : $"{model}/{version}";
    }

    private static string Format(string directory, IReadOnlyList<string> problems) =>
        problems.Count == 1
            ? $"Model package '{PackageName(directory)}' is not valid: {problems[0]}"
            : $"Model package '{PackageName(directory)}' is not valid:{Environment.NewLine}" + string.Join(Environment.NewLine, problems.Select(p => "  - " + p));
}

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

    private static string Format(string directory, IReadOnlyList<string> problems) =>
        problems.Count == 1
            ? $"Model package '{directory}' is not valid: {problems[0]}"
            : $"Model package '{directory}' is not valid:{Environment.NewLine}" + string.Join(Environment.NewLine, problems.Select(p => "  - " + p));
}

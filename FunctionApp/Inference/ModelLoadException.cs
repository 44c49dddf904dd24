namespace FunctionApp.Inference;

/// <summary>A model version could not be loaded; a later call tries again.</summary>
public sealed class ModelLoadException : Exception
{
    public ModelLoadException(string model, string version, string reason, Exception? innerException = null)
        : base($"Model '{model}' version '{version}' could not be loaded: {reason}", innerException)
    {
        Model = model;
        Version = version;
        Reason = reason;
    }

    public ModelLoadException()
        : this(string.Empty, string.Empty, "unknown reason")
    {
    }

    public ModelLoadException(string message)
        : this(string.Empty, string.Empty, message)
    {
    }

    public ModelLoadException(string message, Exception innerException)
        : this(string.Empty, string.Empty, message, innerException)
    {
    }

    public string Model { get; }
    public string Version { get; }
    public string Reason { get; }
}

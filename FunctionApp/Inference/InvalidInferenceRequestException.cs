namespace FunctionApp.Inference;

/// <summary>A request the inference core cannot serve as asked (too many images, a tensor of the wrong length, a bad top K): the caller's to fix.</summary>
public sealed class InvalidInferenceRequestException : Exception
{
    public InvalidInferenceRequestException()
        : base("The inference request is not valid.")
    {
    }

    public InvalidInferenceRequestException(string message)
        : base(message)
    {
    }

    public InvalidInferenceRequestException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}

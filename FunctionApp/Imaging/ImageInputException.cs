namespace FunctionApp.Imaging;

public enum ImageInputError
{
    /// <summary>The encoded data is larger than the byte limit.</summary>
    TooLarge,

    /// <summary>The image declares more pixels than the pixel limit.</summary>
    TooManyPixels,

    /// <summary>The data is not one of the supported formats.</summary>
    UnsupportedFormat,

    /// <summary>The data looks like a supported format but cannot be decoded.</summary>
    Undecodable,

    /// <summary>No data at all.</summary>
    Empty,
}

/// <summary>An image that cannot be used, with the reason in words a caller can act on.</summary>
public sealed class ImageInputException : Exception
{
    public ImageInputException(ImageInputError error, string message)
        : base(message)
    {
        Error = error;
    }

    public ImageInputException()
        : this(ImageInputError.Undecodable, "The image cannot be decoded.")
    {
    }

    public ImageInputException(string message)
        : this(ImageInputError.Undecodable, message)
    {
    }

    public ImageInputException(string message, Exception innerException)
        : base(message, innerException)
    {
        Error = ImageInputError.Undecodable;
    }

    public ImageInputError Error { get; }
}

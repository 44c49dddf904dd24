namespace FunctionApp.Storage;

/// <summary>Storage did not answer in time for a caller who is waiting: try again later.</summary>
public sealed class StorageUnavailableException : Exception
{
    public StorageUnavailableException()
        : base("Storage is not reachable right now; try again shortly.")
    {
    }

    public StorageUnavailableException(string message)
        : base(message)
    {
    }

    public StorageUnavailableException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}

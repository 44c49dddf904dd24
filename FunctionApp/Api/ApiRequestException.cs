namespace FunctionApp.Api;

/// <summary>A request the API cannot serve as sent, with the HTTP status that says why.</summary>
public sealed class ApiRequestException : Exception
{
    public ApiRequestException(int status, string title, string detail)
        : base(detail)
    {
        Status = status;
        Title = title;
    }

    public ApiRequestException()
        : this(400, "Bad request", "The request is not valid.")
    {
    }

    public ApiRequestException(string message)
        : this(400, "Bad request", message)
    {
    }

    public ApiRequestException(string message, Exception innerException)
        : base(message, innerException)
    {
        Status = 400;
        Title = "Bad request";
    }

    public int Status { get; }
    public string Title { get; }

    public static ApiRequestException BadRequest(string detail) => new(400, "Malformed request", detail);
}

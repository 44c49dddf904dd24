using Azure;
using FunctionApp.Imaging;
using FunctionApp.Inference;
using FunctionApp.Models;

namespace FunctionApp.Classification;

/// <summary>
/// Turns a failure into the words a failure record keeps: what went wrong in terms of the product, never a path, a
/// type name or a stack frame.
/// </summary>
public static class FailureReasons
{
    /// <summary>The error kind of a failure that is not the input's fault.</summary>
    public const string ProcessingKind = "processing";

    public static string Kind(ImageInputError error) => System.Text.Json.JsonNamingPolicy.CamelCase.ConvertName(error.ToString());

    /// <summary>The reason to record when an input failed every try with <paramref name="exception"/>.</summary>
    public static string AfterRetries(Exception exception, int tries) => $"Processing failed {tries} times; the last error: {Describe(exception)}";

    public static string Describe(Exception exception) => exception switch
    {
        ImageInputException e => e.Message,
        ModelLoadException e => $"model '{e.Model}' version '{e.Version}' could not be loaded.",
        ModelNotFoundException e => e.Message,
        RequestFailedException e => $"storage answered {e.Status} ({e.ErrorCode ?? "no error code"}).",
        HttpRequestException => "storage could not be reached.",
        TimeoutException or TaskCanceledException => "the work timed out.",
        _ => "an internal error occurred.",
    };
}

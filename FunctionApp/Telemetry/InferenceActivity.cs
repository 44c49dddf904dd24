using System.Diagnostics;

namespace FunctionApp.Telemetry;

/// <summary>
/// The app's spans, on the <see cref="SourceName"/> activity source: a model load, a classification, one blob
/// processed, one batch job, one step of a slice chain. Under the Functions host they nest inside the
/// invocation's span; under <c>serve</c> inside the HTTP request's span, or start a trace of their own for blobs.
/// </summary>
public static class InferenceActivity
{
    public const string SourceName = "ImageInference";

    private static readonly ActivitySource Source = new(SourceName);

    public static Activity? LoadModel(string model, string version) =>
        Start("load model", ActivityKind.Internal, ("model", model), ("model.version", version));

    public static Activity? Classify(string model, string version, int images) =>
        Start("classify", ActivityKind.Internal, ("model", model), ("model.version", version), ("inference.images", images));

    public static Activity? ProcessBlob(string operation, string container, string name) =>
        Start(operation, ActivityKind.Consumer, ("blob.container", container), ("blob.name", name));

    /// <summary>Runs the processing of one blob inside a span that records its outcome, or the exception that ended it.</summary>
    public static async Task<TOutcome> TraceBlobAsync<TOutcome>(string operation, string container, string name, Func<Task<TOutcome>> process)
        where TOutcome : struct, Enum
    {
        ArgumentNullException.ThrowIfNull(process);
        using var activity = ProcessBlob(operation, container, name);
        try
        {
            var outcome = await process();
            activity?.SetTag("blob.outcome", outcome.ToString());
            return outcome;
        }
        catch (Exception ex)
        {
            activity.Fail(ex);
            throw;
        }
    }

    /// <summary>Marks the activity failed with the exception's type and message.</summary>
    public static void Fail(this Activity? activity, Exception exception)
    {
        ArgumentNullException.ThrowIfNull(exception);
        activity?.SetStatus(ActivityStatusCode.Error, exception.Message);
        activity?.SetTag("error.type", exception.GetType().Name);
    }

    private static Activity? Start(string name, ActivityKind kind, params ReadOnlySpan<(string Key, object? Value)> tags)
    {
        var activity = Source.StartActivity(name, kind);
        if (activity is null)
            return null;
        foreach (var (key, value) in tags)
            activity.SetTag(key, value);
        return activity;
    }
}

namespace FunctionApp.Storage;

/// <summary>The <c>status</c> of an outcome record.</summary>
public static class BlobOutcomeStatus
{
    public const string Ok = "ok";
    public const string Failed = "failed";
}

/// <summary>What one trigger did with one input.</summary>
public enum BlobOutcome
{
    /// <summary>Classified: a prediction is the input's outcome.</summary>
    Processed,

    /// <summary>This upload already has its outcome (a redelivered trigger).</summary>
    AlreadyProcessed,

    /// <summary>It could not be classified: a failure record is the input's outcome.</summary>
    Failed,

    /// <summary>The input is gone, or a newer upload replaced it (that upload has a trigger of its own).</summary>
    Missing,
}

using Azure.Storage.Queues;
using Azure;

namespace FunctionApp.Storage;

/// <summary>Queue sends that recreate a queue that went missing, as <see cref="BlobWrites"/> does for containers.</summary>
public static class QueueWrites
{
    public static async Task SendAsync(QueueClient queue, string body, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(queue);
        try
        {
            await queue.SendMessageAsync(body, cancellationToken);
        }
        catch (RequestFailedException ex) when (ex.ErrorCode == "QueueNotFound")
        {
            await queue.CreateIfNotExistsAsync(cancellationToken: cancellationToken);
            await queue.SendMessageAsync(body, cancellationToken);
        }
    }
}

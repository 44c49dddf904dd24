using System.Text.Json;
using FunctionApp.Hosting;

namespace FunctionApp.Tests.Support;

/// <summary>The trigger engine's own queue of blob-trigger work (<c>azure-webjobs-blobtrigger-{hostId}</c>), for replaying a delivery.</summary>
public static class TriggerEngineQueue
{
    public static async Task RedeliverAsync(ServeOnEmptyAccount serve, string function, string container, string name, string etag)
    {
        ArgumentNullException.ThrowIfNull(serve);
        var message = JsonSerializer.Serialize(new
        {
            Type = "BlobTrigger",
            FunctionId = $"{typeof(ServeTriggers).FullName}.{function}",
            BlobType = "BlockBlob",
            ContainerName = container,
            BlobName = name,
            ETag = etag,
        });
        await Queue(serve).SendMessageAsync(message);
    }

    /// <summary>Waits until the engine has taken every message off its queue and finished with it (none left, visible or not).</summary>
    public static Task WaitUntilHandledAsync(ServeOnEmptyAccount serve) =>
        Poll.UntilAsync(async () => (await Queue(serve).GetPropertiesAsync()).Value.ApproximateMessagesCount == 0, TimeSpan.FromSeconds(30), "the engine to handle its queued blob work");

    private static Azure.Storage.Queues.QueueClient Queue(ServeOnEmptyAccount serve) =>
        serve.Storage.Queue($"azure-webjobs-blobtrigger-{TriggerEngine.HostId}");
}

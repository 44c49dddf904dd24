using Azure.Storage.Queues;

namespace FunctionApp.Tests.Support;

/// <summary>
/// Runs a queue's messages through a handler the way a queue trigger does (delete on success, leave it for another
/// try on failure), for tests that call the processors directly rather than through the trigger engine.
/// </summary>
public static class QueueDrain
{
    /// <summary>Handles messages until the queue is empty; returns how many were handled.</summary>
    public static async Task<int> RunAsync(QueueClient queue, Func<string, Task> handle, int limit = 10_000)
    {
        int handled = 0;
        while (handled < limit)
        {
            var messages = (await queue.ReceiveMessagesAsync(maxMessages: Math.Min(32, limit - handled), visibilityTimeout: TimeSpan.FromMinutes(1))).Value;
            if (messages.Length == 0)
                return handled;
            foreach (var message in messages)
            {
                await handle(message.Body.ToString());
                await queue.DeleteMessageAsync(message.MessageId, message.PopReceipt);
                handled++;
            }
        }

        return handled;
    }

    /// <summary>Takes every message off the queue without handling it, as if the instance holding them had died; returns their bodies.</summary>
    public static async Task<List<string>> LoseAsync(QueueClient queue)
    {
        var lost = new List<string>();
        while (true)
        {
            var messages = (await queue.ReceiveMessagesAsync(maxMessages: 32, visibilityTimeout: TimeSpan.FromMinutes(30))).Value;
            if (messages.Length == 0)
                return lost;
            lost.AddRange(messages.Select(m => m.Body.ToString()));
        }
    }
}

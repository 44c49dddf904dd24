using System.Text.Json;
using FunctionApp.Api;

namespace FunctionApp.Functions;

/// <summary>Queue messages are JSON in the API's conventions, read the same way by both hosts' triggers.</summary>
public static class TriggerMessages
{
    /// <exception cref="JsonException">Not a message of that shape; the trigger tries again and parks it as poison.</exception>
    public static T Parse<T>(string message) =>
        JsonSerializer.Deserialize<T>(message, ApiJson.Options) ?? throw new JsonException($"The message is not a {typeof(T).Name}.");
}

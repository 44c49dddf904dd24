using System.Text.Json;
using FunctionApp.Storage;
using Microsoft.Azure.WebJobs;
using Microsoft.Azure.WebJobs.Hosting;
using Microsoft.Extensions.Azure;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace FunctionApp.Hosting;

/// <summary>
/// Runs <c>serve</c>'s triggers (<see cref="ServeTriggers"/>) on the WebJobs SDK, configured from the same
/// <c>host.json</c> the Functions host reads (its <c>extensions</c> section: queue polling and batch sizes, dequeue
/// counts, blob poison threshold), so both hosts try, wait and park the same way.
/// </summary>
public static class TriggerEngine
{
    /// <summary>The engine's id: its receipts, locks and internal queue are kept under it. Every <c>serve</c> on one account shares it.</summary>
    public const string HostId = "image-inference-serve";

    /// <summary>Whether <c>serve</c> should run its triggers: a storage connection is configured and <c>Storage:Watch</c> is on.</summary>
    public static bool IsWanted(IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        var options = configuration.GetSection(StorageOptions.SectionName).Get<StorageOptions>() ?? new StorageOptions();
        var connection = configuration.GetSection(options.Connection);
        return options.Watch && (!string.IsNullOrWhiteSpace(connection.Value) || !string.IsNullOrWhiteSpace(connection["blobServiceUri"]));
    }

    /// <summary>The <c>extensions</c> section of host.json as configuration under <c>AzureWebJobs:extensions</c>, where the WebJobs SDK reads its options.</summary>
    public static IEnumerable<KeyValuePair<string, string?>> HostJsonSettings(string hostJsonPath)
    {
        if (!File.Exists(hostJsonPath))
            yield break;
        using var document = JsonDocument.Parse(File.ReadAllText(hostJsonPath));
        if (!document.RootElement.TryGetProperty("extensions", out var extensions))
            yield break;
        foreach (var pair in Flatten("AzureWebJobs:extensions", extensions))
            yield return pair;
    }

    private static IEnumerable<KeyValuePair<string, string?>> Flatten(string prefix, JsonElement element) => element.ValueKind switch
    {
        JsonValueKind.Object => element.EnumerateObject().SelectMany(p => Flatten($"{prefix}:{p.Name}", p.Value)),
        JsonValueKind.Array => element.EnumerateArray().SelectMany((e, i) => Flatten($"{prefix}:{i}", e)),
        _ => [new KeyValuePair<string, string?>(prefix, element.ValueKind == JsonValueKind.String ? element.GetString() : element.GetRawText())],
    };

    public static void Add(IServiceCollection services, ConfigurationManager configuration, ILoggingBuilder logging)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        configuration.AddInMemoryCollection(HostJsonSettings(Path.Combine(AppContext.BaseDirectory, "host.json")));

        // The engine's listeners end the process when storage stays unreachable past their retries: give them the
        // same patience as the app's own background work, so an outage of a minute or two is ridden out.
        services.AddAzureClients(clients => clients.ConfigureDefaults(options => BlobStorage.Patient(options.Retry)));
        services.AddWebJobs(_ => { })
            .UseHostId(HostId)
            .AddAzureStorageCoreServices()
            .AddAzureStorageBlobs()
            .AddAzureStorageQueues();
        services.AddHostedService<JobHostService>();
        services.AddSingleton<ITypeLocator>(new TypeLocator(typeof(ServeTriggers)));

        // The engine narrates every invocation and every storage request at Information: keep its warnings and errors.
        logging.AddFilter("Azure.Core", LogLevel.Error);
        logging.AddFilter("Azure.Storage", LogLevel.Error);
        logging.AddFilter("Microsoft.Azure.WebJobs", LogLevel.Warning);
        logging.AddFilter("Host", LogLevel.Warning);
        logging.AddFilter("Host.Results", LogLevel.None);
        logging.AddFilter("Function", LogLevel.Warning);
    }

    private sealed class TypeLocator(params Type[] types) : ITypeLocator
    {
        public IReadOnlyList<Type> GetTypes() => types;
    }
}

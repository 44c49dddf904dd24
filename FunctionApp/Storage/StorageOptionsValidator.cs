using Azure.Storage.Blobs;
using Azure.Storage.Queues;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Options;

namespace FunctionApp.Storage;

/// <summary>A storage connection string that cannot be parsed stops the app at start, naming the setting, rather than failing every storage call later.</summary>
public sealed class StorageOptionsValidator(IConfiguration configuration) : IValidateOptions<StorageOptions>
{
    public ValidateOptionsResult Validate(string? name, StorageOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var connectionString = configuration[options.Connection] ?? configuration.GetConnectionString(options.Connection);
        if (string.IsNullOrWhiteSpace(connectionString))
            return ValidateOptionsResult.Success;
        return Parses(connectionString)
            ? ValidateOptionsResult.Success
            : ValidateOptionsResult.Fail($"'{options.Connection}' is not a valid storage connection string (for Azurite: UseDevelopmentStorage=true).");
    }

    // A method of its own, so that without a connection string nothing of the storage SDK is loaded (see BlobStorage).
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining)]
    private static bool Parses(string connectionString)
    {
        try
        {
            _ = new BlobServiceClient(connectionString);
            _ = new QueueServiceClient(connectionString);
            return true;
        }
        catch (Exception ex) when (ex is FormatException or ArgumentException or UriFormatException)
        {
            return false;
        }
    }
}

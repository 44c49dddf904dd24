using Azure.Core;
using Azure.Identity;
using Microsoft.Extensions.Configuration;

namespace FunctionApp.Storage;

/// <summary>
/// A storage connection setting in the Functions host's format: a connection string under the setting's name, or
/// identity-based service URIs under <c>{name}__blobServiceUri</c> and <c>{name}__queueServiceUri</c> (with an
/// optional user-assigned identity's <c>{name}__clientId</c>).
/// </summary>
public sealed record Connection(string? ConnectionString, Uri? BlobServiceUri, Uri? QueueServiceUri, string? ClientId)
{
    /// <summary>The connection the setting <paramref name="name"/> describes, or null when it is not set.</summary>
    public static Connection? Find(IConfiguration configuration, string name)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        var connectionString = configuration[name] ?? configuration.GetConnectionString(name);
        if (!string.IsNullOrWhiteSpace(connectionString))
            return new Connection(connectionString, null, null, null);

        var section = configuration.GetSection(name);
        var blobUri = section["blobServiceUri"] ?? section["serviceUri"];
        if (string.IsNullOrWhiteSpace(blobUri))
            return null;
        var queueUri = section["queueServiceUri"] ?? blobUri.Replace(".blob.", ".queue.", StringComparison.OrdinalIgnoreCase);
        return new Connection(null, new Uri(blobUri), new Uri(queueUri), section["clientId"] is { Length: > 0 } clientId ? clientId : null);
    }

    /// <summary>The identity an identity-based connection signs in with.</summary>
    public TokenCredential Credential() => ClientId is not null
        ? new DefaultAzureCredential(new DefaultAzureCredentialOptions { ManagedIdentityClientId = ClientId })
        : new DefaultAzureCredential();
}

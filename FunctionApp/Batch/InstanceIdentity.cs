using Microsoft.Extensions.Configuration;

namespace FunctionApp.Batch;

/// <summary>
/// Which instance this process is, as batch parts record it: the Functions instance id in Azure
/// (<c>WEBSITE_INSTANCE_ID</c>), otherwise the machine and process.
/// </summary>
public sealed class InstanceIdentity(IConfiguration configuration)
{
    public string Name { get; } = configuration["WEBSITE_INSTANCE_ID"] is { Length: > 0 } id
        ? id
        : $"{Environment.MachineName}/{Environment.ProcessId}";
}

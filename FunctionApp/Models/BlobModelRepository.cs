using System.Text.Json;
using Azure.Storage.Blobs.Models;
using Azure;
using FunctionApp.Inference;
using FunctionApp.Storage;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace FunctionApp.Models;

/// <summary>
/// Model packages published to a blob container laid out <c>{name}/{version}/</c>. Each version is downloaded
/// once per instance into the local models cache (the models root), every file checked against the size and
/// SHA-256 its manifest lists, into a staging folder that is renamed into place only when complete, so the
/// catalog and hot reload never see a partial package. A package that fails the check is logged and skipped.
/// </summary>
public sealed partial class BlobModelRepository(
    BlobStorage storage,
    IOptions<ModelsOptions> options,
    ILogger<BlobModelRepository> logger) : IModelRepositorySync, IDisposable
{
    private readonly ModelsOptions _options = options.Value;
    private readonly SemaphoreSlim _gate = new(1, 1);

    public bool IsEnabled => _options.Source == ModelSource.Blob;

    /// <summary>Downloads every published version not yet in the cache; returns how many were added.</summary>
    public Task<int> SyncAsync(CancellationToken cancellationToken) =>
        IsEnabled && storage.IsConfigured ? SyncFromStorageAsync(cancellationToken) : Task.FromResult(0);

    // Apart from SyncAsync, so that without a storage account nothing of the storage SDK is loaded (see BlobStorage).
    private async Task<int> SyncFromStorageAsync(CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken);
        try
        {
            var container = storage.Service.GetBlobContainerClient(StorageOptions.ModelsContainer);
            if (!(await container.ExistsAsync(cancellationToken)).Value)
                return 0;
            int added = 0;
            await foreach (var blob in container.GetBlobsAsync(BlobTraits.None, BlobStates.None, null, cancellationToken))
            {
                var parts = blob.Name.Split('/');
                if (parts.Length != 3 || parts[2] != ModelManifest.FileName)
                    continue;
                var target = Path.Combine(_options.ResolvedRoot, parts[0], parts[1]);
                if (Directory.Exists(target))
                    continue;
                if (await DownloadAsync(container, parts[0], parts[1], target, cancellationToken))
                    added++;
            }

            return added;
        }
        finally
        {
            _gate.Release();
        }
    }

    private async Task<bool> DownloadAsync(Azure.Storage.Blobs.BlobContainerClient container, string name, string version, string target, CancellationToken cancellationToken)
    {
        var prefix = $"{name}/{version}/";
        var staging = Path.Combine(_options.ResolvedRoot, ".staging", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(staging);
        try
        {
            var manifestBytes = (await container.GetBlobClient(prefix + ModelManifest.FileName).DownloadContentAsync(cancellationToken)).Value.Content.ToArray();
            var manifest = ModelManifest.Parse(System.Text.Encoding.UTF8.GetString(manifestBytes));
            if (manifest.Files is not { Count: > 0 } files)
            {
                LogRejected(name, version, "its manifest lists no files (run 'models seal' before publishing)");
                return false;
            }

            await File.WriteAllBytesAsync(Path.Combine(staging, ModelManifest.FileName), manifestBytes, cancellationToken);
            foreach (var file in files)
            {
                var local = Path.GetFullPath(Path.Combine(staging, file.Path));
                if (!local.StartsWith(staging + Path.DirectorySeparatorChar, StringComparison.Ordinal))
                {
                    LogRejected(name, version, $"file '{file.Path}' points outside the package");
                    return false;
                }

                Directory.CreateDirectory(Path.GetDirectoryName(local)!);
                await container.GetBlobClient(prefix + file.Path).DownloadToAsync(local, cancellationToken);
                if (PackageSeal.Check(local, file) is { } problem)
                {
                    LogRejected(name, version, problem);
                    return false;
                }
            }

            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            Directory.Move(staging, target);
            LogCached(name, version, target);
            return true;
        }
        catch (Exception ex) when (ex is RequestFailedException or JsonException or IOException)
        {
            LogRejected(name, version, ex.Message);
            return false;
        }
        finally
        {
            if (Directory.Exists(staging))
                Directory.Delete(staging, recursive: true);
        }
    }

    public void Dispose() => _gate.Dispose();

    [LoggerMessage(Level = LogLevel.Information, Message = "Cached model {Model} version {Version} from blob storage in {Directory}")]
    private partial void LogCached(string model, string version, string directory);

    [LoggerMessage(Level = LogLevel.Error, Message = "Model {Model} version {Version} in blob storage was not used: {Reason}")]
    private partial void LogRejected(string model, string version, string reason);
}

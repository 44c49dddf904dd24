using System.Text.Json;
using Azure.Storage.Blobs.Models;
using Azure.Storage.Blobs;
using FunctionApp.Storage;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace FunctionApp.Tests.Support;

/// <summary>
/// <c>serve</c> (in this process, its triggers on the WebJobs engine) against a new Azurite account with nothing in
/// it, over the tiny CNN models: what a user gets the first time they point the app at storage.
/// </summary>
public sealed class ServeOnEmptyAccount : IAsyncDisposable
{
    private readonly ModelRoot _models = new();
    private RunningServer? _server;

    private ServeOnEmptyAccount()
    {
    }

    public Azurite Azurite { get; } = new();

    public RunningServer Server => _server!;

    public BlobStorage Storage => Server.Services.GetRequiredService<BlobStorage>();

    public string ModelsRoot => _models.Root;

    public CapturingLoggerProvider Logs { get; } = new(LogLevel.Information);

    /// <summary>Settings a test may change before the server starts: the sweep is off unless asked for, so the engine alone is tried.</summary>
    public static async Task<ServeOnEmptyAccount> StartAsync(Action<Dictionary<string, string?>>? change = null, bool waitForProvisioning = true)
    {
        var serve = new ServeOnEmptyAccount();
        try
        {
            await serve.StartCoreAsync(change, waitForProvisioning);
            return serve;
        }
        catch
        {
            await serve.DisposeAsync();
            throw;
        }
    }

    private async Task StartCoreAsync(Action<Dictionary<string, string?>>? change, bool waitForProvisioning)
    {
        var serve = this;
        await serve.Azurite.InitializeAsync();
        var settings = serve._models.Settings(maxImageBytes: 200_000);
        settings["AzureWebJobsStorage"] = serve.Azurite.ConnectionString;
        settings["Storage:SweepInterval"] = "00:00:00";
        settings["Models:RefreshInterval"] = "00:00:00";
        change?.Invoke(settings);
        serve._server = await RunningServer.StartAsync(settings, serve.Logs);
        if (waitForProvisioning)
            await serve.Server.Services.GetRequiredService<StorageProvisioner>().Provisioned.WaitAsync(TimeSpan.FromSeconds(60));
    }

    /// <summary>The JSON of a blob once it exists and <paramref name="done"/> says it is what the test waits for.</summary>
    public static async Task<JsonElement> WaitForJsonAsync(BlobContainerClient container, string name, Func<JsonElement, bool>? done = null, int seconds = 60) =>
        (JsonElement)await Poll.UntilAsync<object>(async () =>
        {
            var blob = container.GetBlobClient(name);
            if (!(await blob.ExistsAsync()).Value)
                return null;
            var json = JsonDocument.Parse((await blob.DownloadContentAsync()).Value.Content.ToString()).RootElement;
            return done is null || done(json) ? json : null;
        }, TimeSpan.FromSeconds(seconds), $"{container.Name}/{name}");

    /// <summary>Every blob name in a container, sorted: the "exact set of outcomes" the tests compare.</summary>
    public static async Task<List<string>> NamesAsync(BlobContainerClient container, string? prefix = null)
    {
        var names = new List<string>();
        await foreach (var blob in container.GetBlobsAsync(BlobTraits.None, BlobStates.None, prefix, CancellationToken.None))
            names.Add(blob.Name);
        names.Sort(StringComparer.Ordinal);
        return names;
    }

    public async ValueTask DisposeAsync()
    {
        if (_server is not null)
            await _server.DisposeAsync();
        try
        {
            await Azurite.DisposeAsync();
        }
        finally
        {
            Azurite.Dispose();
            _models.Dispose();
            Logs.Dispose();
        }
    }
}

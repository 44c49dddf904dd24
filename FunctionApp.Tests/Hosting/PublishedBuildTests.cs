using System.Diagnostics;
using System.IO.Compression;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Azure.Storage.Blobs;
using FunctionApp.Tests.Support;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;

namespace FunctionApp.Tests.Hosting;

/// <summary>
/// The app published for Azure as the README says (self-contained ReadyToRun: the .NET libraries trimmed to what the
/// app and its packages use, then compiled with the app into one composite image), from a copy of the sources so the
/// build beside the tests is left alone. Published once for the class.
/// </summary>
public sealed class PublishedBuild : IAsyncLifetime, IDisposable
{
    private readonly TempDirectory _temp = new();

    public string Executable => Path.Combine(_temp.Path, "out", "FunctionApp");

    public string Output => Path.Combine(_temp.Path, "out");

    public async Task InitializeAsync()
    {
        string root = ReadmeSection.RepositoryRoot;
        string sources = _temp.Sub("src");
        foreach (var file in new[] { "Directory.Build.props", "Directory.Build.targets", "Directory.Packages.props", "global.json", "host.json", ".editorconfig" })
        {
            if (File.Exists(Path.Combine(root, file)))
                CopyFile(Path.Combine(root, file), Path.Combine(sources, file));
        }

        CopyProject(Path.Combine(root, "FunctionApp"), Path.Combine(sources, "FunctionApp"));
        var publish = new ProcessStartInfo("dotnet", ["publish", Path.Combine(sources, "FunctionApp"), "-c", "Release", "-r", "linux-x64", "--self-contained", "true", "-p:PublishReadyToRun=true", "-o", Output, "-nologo"])
        {
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        using var process = Process.Start(publish) ?? throw new InvalidOperationException("dotnet publish did not start.");
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(10));
        await process.WaitForExitAsync(timeout.Token);
        Assert.True(process.ExitCode == 0, $"dotnet publish failed:{Environment.NewLine}{await output}{Environment.NewLine}{await error}");
    }

    private static void CopyProject(string from, string to)
    {
        foreach (var file in Directory.EnumerateFiles(from, "*", SearchOption.AllDirectories))
        {
            var relative = Path.GetRelativePath(from, file);
            var top = relative.Split(Path.DirectorySeparatorChar)[0];
            if (top is "bin" or "obj")
                continue;
            CopyFile(file, Path.Combine(to, relative));
        }
    }

    private static void CopyFile(string from, string to)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(to)!);
        File.Copy(from, to);
    }

    public Task DisposeAsync() => Task.CompletedTask;

    public void Dispose() => _temp.Dispose();
}

/// <summary>
/// Publishing takes both cores for about two minutes; tests that time answers or watch memory settle after a burst
/// would measure the publish too, so these run on their own, after the parallel ones.
/// </summary>
[CollectionDefinition(nameof(PublishedBuildAlone), DisableParallelization = true)]
public sealed class PublishedBuildAlone;

/// <summary>
/// Every door of the published build: trimming removes what nothing refers to, so what is reached only by reflection
/// (the trigger engine's bindings, JSON contracts, the Azure SDK's clients) is tried here on the real artifact.
/// </summary>
[Trait("Category", "EndToEnd")]
[Collection(nameof(PublishedBuildAlone))]
public sealed class PublishedBuildTests : IClassFixture<PublishedBuild>, IAsyncLifetime, IDisposable
{
    private static readonly string Sneaker = Images.TestData("fashion", "sneaker", "t10k-00009.png");
    private readonly PublishedBuild _build;
    private readonly Azurite _azurite = new();
    private readonly TempDirectory _temp = new();

    public PublishedBuildTests(PublishedBuild build) => _build = build;

    public Task InitializeAsync() => _azurite.InitializeAsync();

    public Task DisposeAsync() => _azurite.DisposeAsync();

    public void Dispose()
    {
        _azurite.Dispose();
        _temp.Dispose();
    }

    [Fact]
    public void Publish_TrimsTheLibrariesAndCompilesOneCompositeImage()
    {
        Assert.True(File.Exists(Path.Combine(_build.Output, "FunctionApp.r2r.dll")), "no composite image");
        // Trimmed: the framework's own assemblies that nothing uses are gone; every package's assembly is whole.
        Assert.False(File.Exists(Path.Combine(_build.Output, "Microsoft.AspNetCore.Identity.dll")));
        Assert.True(File.Exists(Path.Combine(_build.Output, "Azure.Identity.dll")));
        using var config = JsonDocument.Parse(File.ReadAllText(Path.Combine(_build.Output, "FunctionApp.runtimeconfig.json")));
        var properties = config.RootElement.GetProperty("runtimeOptions").GetProperty("configProperties");
        Assert.True(properties.GetProperty("System.Text.Json.JsonSerializer.IsReflectionEnabledByDefault").GetBoolean());
        Assert.True(properties.GetProperty("System.StartupHookProvider.IsSupported").GetBoolean());
        Assert.True(properties.GetProperty("System.Globalization.Invariant").GetBoolean());
        // ML.NET's copy of a 224x224 RGB input tensor (an array of 150,528 floats) starts in generation 0.
        Assert.True(properties.GetProperty("System.GC.LOHThreshold").GetInt64() > (3 * 224 * 224 * sizeof(float)) + 32);

        // The bundled model ships prepared, found by its content wherever the models folder lies.
        var prepared = new FunctionApp.Inference.PreparedModels(Path.Combine(_build.Output, FunctionApp.Inference.PreparedModels.FolderName));
        var graph = prepared.Find(Path.Combine(_build.Output, "models", "fashion-resnet18", "1", "resnet18.onnx"));
        Assert.NotNull(graph);
        Assert.True(new FileInfo(Path.Combine(Path.GetDirectoryName(graph)!, FunctionApp.Inference.PreparedModels.WeightsFile)).Length > 40 << 20);
    }

    [Fact]
    public async Task Serve_WithoutAStorageAccount_LoadsNothingOfTheStorageSdkOrAzureMonitor()
    {
        // Their assemblies are resident as a whole once loaded (about 3.5 MB), which serve without an account never needs.
        var settings = new Dictionary<string, string?> { ["AzureWebJobsStorage"] = "", ["TMPDIR"] = _temp.Path };
        await using var serve = await ServeProcess.StartAsync(settings, _build.Executable);
        using (var png = new ByteArrayContent(await File.ReadAllBytesAsync(Sneaker)))
        {
            png.Headers.ContentType = new MediaTypeHeaderValue("image/png");
            using var answer = await serve.Client.PostAsync("/api/predict?top=1", png);
            Assert.Equal(HttpStatusCode.OK, answer.StatusCode);
        }

        Assert.Contains("fashion-resnet18", await serve.Client.GetStringAsync("/api/models"), StringComparison.Ordinal);
        var mapped = (await File.ReadAllLinesAsync($"/proc/{serve.Id}/maps")).Select(l => Path.GetFileName(l.Split(' ', StringSplitOptions.RemoveEmptyEntries).Last())).Distinct().ToList();

        Assert.Contains("FunctionApp.dll", mapped);
        Assert.DoesNotContain(mapped, name => name.StartsWith("Azure.", StringComparison.Ordinal) || name is "Microsoft.Extensions.Azure.dll" or "System.ClientModel.dll");
    }

    [Fact]
    public async Task Serve_AnswersTheHttpDoorsAndRunsTheBlobTriggersOnAnEmptyAccount()
    {
        var settings = new Dictionary<string, string?>
        {
            ["AzureWebJobsStorage"] = _azurite.ConnectionString,
            ["TMPDIR"] = _temp.Path,
        };
        await using var serve = await ServeProcess.StartAsync(settings, _build.Executable);
        var client = serve.Client;

        // A new instance (its temporary folder empty) loads the model in the form the build prepared.
        await serve.WaitForOutputAsync(TimeSpan.FromSeconds(60), "from the prepared model shipped with the app");

        using (var png = new ByteArrayContent(await File.ReadAllBytesAsync(Sneaker)))
        {
            png.Headers.ContentType = new MediaTypeHeaderValue("image/png");
            using var answer = await client.PostAsync("/api/predict?top=1", png);
            Assert.Equal(HttpStatusCode.OK, answer.StatusCode);
            Assert.Equal("sneaker", Top(await answer.Content.ReadAsStringAsync()));
        }

        using (var form = new MultipartFormDataContent())
        {
            form.Add(new ByteArrayContent(await File.ReadAllBytesAsync(Sneaker)), "file", "sneaker.png");
            using var answer = await client.PostAsync("/api/predict?top=1", form);
            Assert.Equal(HttpStatusCode.OK, answer.StatusCode);
        }

        using (var garbage = new ByteArrayContent(Encoding.ASCII.GetBytes("not an image at all")))
        {
            garbage.Headers.ContentType = new MediaTypeHeaderValue("image/png");
            using var answer = await client.PostAsync("/api/predict", garbage);
            Assert.Equal(HttpStatusCode.UnsupportedMediaType, answer.StatusCode);
            Assert.Equal("application/problem+json", answer.Content.Headers.ContentType?.MediaType);
        }

        var infer = $$"""{"inputs":[{"name":"image","datatype":"BYTES","shape":[1],"data":["{{Convert.ToBase64String(await File.ReadAllBytesAsync(Sneaker))}}"]}]}""";
        using (var body = new StringContent(infer, Encoding.UTF8, "application/json"))
        {
            using var answer = await client.PostAsync("/v2/models/fashion-resnet18/infer", body);
            Assert.Equal(HttpStatusCode.OK, answer.StatusCode);
            using var json = JsonDocument.Parse(await answer.Content.ReadAsStringAsync());
            Assert.Equal(10, json.RootElement.GetProperty("outputs")[0].GetProperty("data").GetArrayLength());
        }

        Assert.Contains("fashion-resnet18", await client.GetStringAsync("/api/models"), StringComparison.Ordinal);
        Assert.Contains("\"ready\"", await client.GetStringAsync("/api/health/ready"), StringComparison.Ordinal);
        Assert.Contains("<html", await client.GetStringAsync("/"), StringComparison.OrdinalIgnoreCase);
        Assert.Contains("\"openapi\"", await client.GetStringAsync("/api/openapi.json"), StringComparison.Ordinal);
        Assert.Contains("http_server_request_duration", await client.GetStringAsync("/metrics"), StringComparison.Ordinal);
        // Having answered every door, the process has not loaded culture data (ICU): nothing it does needs it.
        var libraries = await File.ReadAllTextAsync($"/proc/{serve.Id}/maps");
        Assert.DoesNotContain("libicu", libraries, StringComparison.Ordinal);

        var account = new BlobServiceClient(_azurite.ConnectionString);
        var images = account.GetBlobContainerClient("images");
        await Poll.UntilAsync(async () => (await images.ExistsAsync()).Value, TimeSpan.FromSeconds(60), "serve to create its containers");
        await images.GetBlobClient("shoes/sneaker.png").UploadAsync(new BinaryData(await File.ReadAllBytesAsync(Sneaker)));
        await images.GetBlobClient("notes/readme.png").UploadAsync(BinaryData.FromString("not an image"));
        using (var zip = new MemoryStream())
        {
            using (var archive = new ZipArchive(zip, ZipArchiveMode.Create, leaveOpen: true))
                archive.CreateEntryFromFile(Sneaker, "fashion/sneaker.png");
            await account.GetBlobContainerClient("batches").GetBlobClient("shoot.zip").UploadAsync(new BinaryData(zip.ToArray()));
        }

        var predictions = account.GetBlobContainerClient("predictions");
        var ok = await ServeOnEmptyAccount.WaitForJsonAsync(predictions, "shoes/sneaker.png.json", seconds: 120);
        Assert.Equal("ok", ok.GetProperty("status").GetString());
        Assert.Equal("sneaker", ok.GetProperty("top")[0].GetProperty("label").GetString());
        var failed = await ServeOnEmptyAccount.WaitForJsonAsync(predictions, "notes/readme.png.json", seconds: 120);
        Assert.Equal("failed", failed.GetProperty("status").GetString());
        var progress = await ServeOnEmptyAccount.WaitForJsonAsync(
            account.GetBlobContainerClient("batch-results"), "shoot.zip/progress.json", j => j.GetProperty("state").GetString() != "running", seconds: 120);
        Assert.Equal(("finished", 1, 0), (progress.GetProperty("state").GetString(), progress.GetProperty("done").GetInt32(), progress.GetProperty("failed").GetInt32()));
    }

    [Fact]
    public async Task CommandLine_PredictsValidatesAndSlicesTheBundledModel()
    {
        var predict = await AppProcess.RunAsync(["predict", Sneaker, "--json", "--top", "1"], executable: _build.Executable);
        Assert.True(predict.ExitCode == 0, predict.ToString());
        Assert.Equal("sneaker", JsonDocument.Parse(predict.Output).RootElement.GetProperty("images")[0].GetProperty("top")[0].GetProperty("label").GetString());

        string bundled = Path.Combine(_build.Output, "models", "fashion-resnet18", "1");
        var validate = await AppProcess.RunAsync(["models", "validate", bundled], executable: _build.Executable);
        Assert.True(validate.ExitCode == 0, validate.ToString());

        var slice = await AppProcess.RunAsync(["slice", "--model", bundled, "--slices", "2", "--out", _temp.Sub("sliced")], executable: _build.Executable, timeoutSeconds: 300);
        Assert.True(slice.ExitCode == 0, slice.ToString());
        Assert.True(File.Exists(Path.Combine(_temp.Sub("sliced"), "model.json")), slice.ToString());
    }

    /// <summary>
    /// The worker's own start, as the Functions host launches it: the host's address and ids on the command line. Core
    /// Tools cannot run here, so a stand-in takes the worker's RPC stream (HTTP/2, the gRPC method the worker calls) and
    /// answers nothing: what is tried is that the trimmed worker builds its host, reaches the host's channel with its
    /// worker id, and loads and warms the default model meanwhile, without a failure.
    /// </summary>
    [Fact]
    public async Task Worker_StartsConnectsToTheHostAndWarmsTheModel()
    {
        int port = Azurite.FreePort();
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.ConfigureKestrel(kestrel => kestrel.ListenLocalhost(port, listen => listen.Protocols = HttpProtocols.Http2));
        await using var host = builder.Build();
        var opened = new TaskCompletionSource<byte[]>(TaskCreationOptions.RunContinuationsAsynchronously);
        host.MapPost("/AzureFunctionsRpcMessages.FunctionRpc/EventStream", async context =>
        {
            context.Response.ContentType = "application/grpc";
            await context.Response.StartAsync(context.RequestAborted);
            // What the worker sends (gRPC frames of its messages), until its start message with its id has come.
            var received = new List<byte>();
            var chunk = new byte[4096];
            try
            {
                int read;
                while ((read = await context.Request.Body.ReadAsync(chunk, context.RequestAborted)) > 0)
                {
                    received.AddRange(chunk.AsSpan(0, read));
                    if (Encoding.UTF8.GetString([.. received]).Contains("worker-7", StringComparison.Ordinal))
                        opened.TrySetResult([.. received]);
                }

                opened.TrySetResult([.. received]);
                await Task.Delay(Timeout.Infinite, context.RequestAborted);
            }
            catch (Exception ex) when (ex is OperationCanceledException or IOException)
            {
                // The worker went away.
            }
        });
        await host.StartAsync();

        var output = new StringBuilder();
        var start = AppProcess.StartInfo(
            ["--functions-uri", $"http://localhost:{port}/", "--functions-worker-id", "worker-7", "--functions-request-id", "request-9", "--functions-grpc-max-message-length", "2147483647"],
            new Dictionary<string, string?> { ["Models:WarmUp"] = "Eager" },
            _build.Executable);
        using var worker = Process.Start(start) ?? throw new InvalidOperationException("The worker did not start.");
        worker.OutputDataReceived += (_, e) => { lock (output) output.AppendLine(e.Data); };
        worker.ErrorDataReceived += (_, e) => { lock (output) output.AppendLine(e.Data); };
        worker.BeginOutputReadLine();
        worker.BeginErrorReadLine();
        try
        {
            var message = Encoding.UTF8.GetString(await opened.Task.WaitAsync(TimeSpan.FromSeconds(60)));
            Assert.Contains("worker-7", message, StringComparison.Ordinal);
            await Poll.UntilAsync(() => Task.FromResult(Logged(output, "Warmed up model fashion-resnet18")), TimeSpan.FromSeconds(60), "the worker to warm its model");
            Assert.False(worker.HasExited, Logged(output));
            Assert.DoesNotContain("fail:", Logged(output), StringComparison.Ordinal);
        }
        finally
        {
            worker.Kill(entireProcessTree: true);
            await worker.WaitForExitAsync();
        }
    }

    private static bool Logged(StringBuilder output, string text) => Logged(output).Contains(text, StringComparison.Ordinal);

    private static string Logged(StringBuilder output)
    {
        lock (output)
            return output.ToString();
    }

    private static string? Top(string answer) =>
        JsonDocument.Parse(answer).RootElement.GetProperty("images")[0].GetProperty("top")[0].GetProperty("label").GetString();
}

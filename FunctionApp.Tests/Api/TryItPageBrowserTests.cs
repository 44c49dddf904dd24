using System.Globalization;
using System.Net.Http.Headers;
using System.Text.Json;
using System.Text;
using FunctionApp.Tests.Support;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace FunctionApp.Tests.Api;

/// <summary>Headless Chromium, then <c>serve</c> on loopback with the bundled model and an API key.</summary>
public sealed class TryItBrowserFixture : IAsyncLifetime
{
    public const string Key = "try-it-key";

    public Chromium Chromium { get; private set; } = null!;

    public RunningServer Server { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        SetDefaultExpectTimeout(30_000);
        Chromium = await Chromium.LaunchAsync();
        Server = await RunningServer.StartAsync(new Dictionary<string, string?>
        {
            ["Api:ApiKey"] = Key,
            ["OnnxRuntime:IntraOpThreads"] = "1",
        });
    }

    public async Task DisposeAsync()
    {
        if (Server is not null)
            await Server.DisposeAsync();
        if (Chromium is not null)
            await Chromium.DisposeAsync();
    }
}

/// <summary>
/// The try-it page in a real browser against the real server: real Fashion-MNIST images dropped on it (a DOM
/// <c>drop</c> event carrying a <c>DataTransfer</c>) or chosen with the file input; the answer on screen must be the
/// API's own answer for the same image. Set <c>TRYIT_SCREENSHOT</c> to an absolute <c>.png</c> path to save a screenshot
/// of a result (tests run in their output folder): <c>docs/try-it.png</c> is made with
/// <c>TRYIT_SCREENSHOT=$PWD/docs/try-it.png dotnet test --filter TryItPageBrowserTests.Drop_FashionPng</c>.
/// </summary>
[Trait("Category", "EndToEnd")]
public class TryItPageBrowserTests(TryItBrowserFixture fixture) : IClassFixture<TryItBrowserFixture>
{
    private static readonly string Sneaker = Images.TestData("fashion", "sneaker", "t10k-00009.png");
    private static readonly string AnkleBoot = Images.TestData("fashion", "ankle-boot", "t10k-00000.png");

    private Uri BaseAddress => fixture.Server.Client.BaseAddress!;

    /// <summary>One browser context on the page at <c>/</c>, with what went wrong in it recorded.</summary>
    private sealed class Session(IBrowserContext context, IPage page) : IAsyncDisposable
    {
        public IPage Page => page;

        public List<string> Problems { get; } = [];

        public List<string> Requests { get; } = [];

        public ValueTask DisposeAsync() => context.DisposeAsync();
    }

    private async Task<Session> OpenAsync(string? key = TryItBrowserFixture.Key)
    {
        var context = await fixture.Chromium.Browser.NewContextAsync(new BrowserNewContextOptions
        {
            BaseURL = BaseAddress.ToString(),
            ViewportSize = new ViewportSize { Width = 800, Height = 640 },
            DeviceScaleFactor = 1,
            Locale = "en-US",
        });
        var page = await context.NewPageAsync();
        var session = new Session(context, page);
        page.Console += (_, message) =>
        {
            // The browser logs every non-2xx fetch; a 401 on the model list before the key is typed is expected.
            if (message.Type == "error" && !message.Text.Contains("status of 401", StringComparison.Ordinal))
                session.Problems.Add($"console: {message.Text}");
        };
        page.PageError += (_, error) => session.Problems.Add($"page error: {error}");
        page.Request += (_, request) => session.Requests.Add(request.Url);

        var models = await page.RunAndWaitForResponseAsync(() => page.GotoAsync("/"), r => r.Url.EndsWith("/api/models", StringComparison.Ordinal));
        Assert.Equal(401, models.Status);
        if (key is not null)
        {
            // As a person does: the model list answers 401 until the key is typed in, then it is asked again.
            await page.GetByLabel("API key").FillAsync(key);
            await page.RunAndWaitForResponseAsync(() => page.GetByLabel("API key").DispatchEventAsync("change"), r => r.Url.EndsWith("/api/models", StringComparison.Ordinal));
        }

        return session;
    }

    /// <summary>What the API itself answers for the image, asked directly.</summary>
    private async Task<JsonElement> ApiAnswerAsync(byte[] image, int top, string contentType = "image/png")
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, $"/api/predict?top={top}") { Content = new ByteArrayContent(image) };
        request.Content.Headers.ContentType = MediaTypeHeaderValue.Parse(contentType);
        request.Headers.Add("x-functions-key", TryItBrowserFixture.Key);
        using var response = await fixture.Server.Client.SendAsync(request);
        return JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.Clone();
    }

    /// <summary>Dispatches dragenter, dragover and drop on the drop zone, carrying the file in a page-built DataTransfer.</summary>
    private static async Task DropAsync(IPage page, string name, string type, byte[] data)
    {
        var transfer = await page.EvaluateHandleAsync(
            """
            ([name, type, base64]) => {
              const bytes = Uint8Array.from(atob(base64), c => c.charCodeAt(0));
              const transfer = new DataTransfer();
              transfer.items.add(new File([bytes], name, { type }));
              return transfer;
            }
            """,
            new object[] { name, type, Convert.ToBase64String(data) });
        foreach (var kind in new[] { "dragenter", "dragover", "drop" })
            await page.DispatchEventAsync("#drop", kind, new { dataTransfer = transfer });
    }

    private static async Task ExpectAnswerAsync(IPage page, JsonElement api)
    {
        var top = api.GetProperty("images")[0].GetProperty("top").EnumerateArray().ToList();
        var bars = page.Locator("#bars li");
        await Expect(bars).ToHaveCountAsync(top.Count);

        Assert.Equal(top.Select(t => t.GetProperty("label").GetString()), await page.Locator("#bars li .label").AllTextContentsAsync());
        var firstPercent = (top[0].GetProperty("score").GetDouble() * 100).ToString("F1", CultureInfo.InvariantCulture) + "%";
        Assert.Equal(firstPercent, await bars.First.Locator(".pct").TextContentAsync());
        Assert.Equal(api.GetProperty("model").GetString(), await page.Locator("#answer-model").TextContentAsync());
        Assert.Equal(api.GetProperty("version").GetString(), await page.Locator("#answer-version").TextContentAsync());
        await Expect(page.Locator("#answered")).ToBeVisibleAsync();
        await Expect(page.Locator("#error")).ToBeHiddenAsync();
    }

    private void AssertCleanAndLocal(Session session)
    {
        Assert.Empty(session.Problems);
        var origin = BaseAddress.GetLeftPart(UriPartial.Authority);
        Assert.All(session.Requests, url => Assert.True(url.StartsWith(origin, StringComparison.Ordinal) || url.StartsWith("blob:", StringComparison.Ordinal) || url.StartsWith("data:", StringComparison.Ordinal), $"the page fetched {url}"));
    }

    [Fact]
    public async Task Drop_FashionPng_ShowsTheApisTopLabelsAsKBarsWithModelAndVersion()
    {
        var image = await File.ReadAllBytesAsync(Sneaker);
        await using var session = await OpenAsync();
        int k = int.Parse(await session.Page.GetByLabel("Labels to show").InputValueAsync(), CultureInfo.InvariantCulture);
        var api = await ApiAnswerAsync(image, k);

        await DropAsync(session.Page, "sneaker.png", "image/png", image);

        await ExpectAnswerAsync(session.Page, api);
        Assert.Equal(k, await session.Page.Locator("#bars li").CountAsync());
        Assert.Equal("fashion-resnet18", api.GetProperty("model").GetString());
        Assert.False(api.GetProperty("images")[0].TryGetProperty("lowConfidence", out _), "the sneaker scores above the model's floor");
        await Expect(session.Page.Locator("#low")).ToBeHiddenAsync();
        await Expect(session.Page.Locator("#preview")).ToBeVisibleAsync();
        AssertCleanAndLocal(session);
        Assert.Contains(session.Requests, url => url.Contains("/api/predict?top=" + k, StringComparison.Ordinal));

        if (Environment.GetEnvironmentVariable("TRYIT_SCREENSHOT") is { Length: > 0 } screenshot)
        {
            await session.Page.Locator("#key").BlurAsync();
            await session.Page.ScreenshotAsync(new PageScreenshotOptions { Path = screenshot, FullPage = true });
        }
    }

    [Fact]
    public async Task Drop_ImageBelowTheConfidenceFloor_ShowsTheLowConfidenceNote()
    {
        // Red and blue halves are no garment: the bundled model's best guess scores under its minScore.
        var image = Images.Halves(64, 64, SkiaSharp.SKColors.Red, SkiaSharp.SKColors.Blue);
        await using var session = await OpenAsync();
        var api = await ApiAnswerAsync(image, 5);
        Assert.True(api.GetProperty("images")[0].GetProperty("lowConfidence").GetBoolean());

        await DropAsync(session.Page, "halves.png", "image/png", image);

        await ExpectAnswerAsync(session.Page, api);
        var note = session.Page.Locator("#low");
        await Expect(note).ToBeVisibleAsync();
        await Expect(note).ToContainTextAsync("Low confidence.");

        // The next answer above the floor hides the note again.
        await DropAsync(session.Page, "sneaker.png", "image/png", await File.ReadAllBytesAsync(Sneaker));
        await Expect(session.Page.Locator("#bars li .label").First).ToHaveTextAsync("sneaker");
        await Expect(note).ToBeHiddenAsync();
        AssertCleanAndLocal(session);
    }

    [Fact]
    public async Task FilePicker_FashionPng_ShowsTheSameAnswerAsTheApi()
    {
        await using var session = await OpenAsync();
        await session.Page.GetByLabel("Labels to show").FillAsync("3");
        var api = await ApiAnswerAsync(await File.ReadAllBytesAsync(AnkleBoot), 3);

        await session.Page.GetByLabel("Or choose a file").SetInputFilesAsync(AnkleBoot);

        await ExpectAnswerAsync(session.Page, api);
        Assert.Equal(3, await session.Page.Locator("#bars li").CountAsync());
        AssertCleanAndLocal(session);
    }

    [Fact]
    public async Task Drop_TextFile_ShowsTheProblemMessageNotACrash()
    {
        var text = Encoding.UTF8.GetBytes("this is not a picture\n");
        await using var session = await OpenAsync();
        var api = await ApiAnswerAsync(text, 5, "application/octet-stream");

        await DropAsync(session.Page, "notes.txt", "text/plain", text);

        var error = session.Page.Locator("#error");
        await Expect(error).ToBeVisibleAsync();
        await Expect(error).ToHaveTextAsync($"{api.GetProperty("title").GetString()}: {api.GetProperty("detail").GetString()}");
        Assert.Equal(415, api.GetProperty("status").GetInt32());
        await Expect(session.Page.Locator("#bars li")).ToHaveCountAsync(0);
        await Expect(session.Page.Locator("#answered")).ToBeHiddenAsync();
        Assert.DoesNotContain(session.Problems, p => p.StartsWith("page error", StringComparison.Ordinal));

        // The page is still usable: the next image is classified.
        await DropAsync(session.Page, "sneaker.png", "image/png", await File.ReadAllBytesAsync(Sneaker));
        await Expect(session.Page.Locator("#bars li")).ToHaveCountAsync(5);
        await Expect(error).ToBeHiddenAsync();
    }

    [Fact]
    public async Task Drop_WithAWrongKey_ShowsTheKeyRequiredMessage()
    {
        await using var session = await OpenAsync(key: "not-the-key");

        await DropAsync(session.Page, "sneaker.png", "image/png", await File.ReadAllBytesAsync(Sneaker));

        var error = session.Page.Locator("#error");
        await Expect(error).ToBeVisibleAsync();
        await Expect(error).ToContainTextAsync("Key required");
        await Expect(error).ToContainTextAsync("Enter the API key above");
        await Expect(session.Page.Locator("#bars li")).ToHaveCountAsync(0);
        Assert.DoesNotContain(session.Problems, p => p.StartsWith("page error", StringComparison.Ordinal));
    }

    [Fact]
    public async Task ModelPicker_ListsTheModelsFromTheApi_AndTheChosenOneAnswers()
    {
        await using var session = await OpenAsync();
        var picker = session.Page.GetByLabel("Model");

        await Expect(picker.Locator("option")).ToHaveTextAsync(["Default (fashion-resnet18)", "fashion-resnet18"]);
        await picker.SelectOptionAsync("fashion-resnet18");
        await DropAsync(session.Page, "sneaker.png", "image/png", await File.ReadAllBytesAsync(Sneaker));

        await Expect(session.Page.Locator("#answer-model")).ToHaveTextAsync("fashion-resnet18");
        Assert.Contains(session.Requests, url => url.Contains("/api/predict?model=fashion-resnet18&top=5", StringComparison.Ordinal));
        AssertCleanAndLocal(session);
    }

    [Fact]
    public async Task ApiKey_IsKeptInTheBrowserAcrossReloads()
    {
        await using var session = await OpenAsync();

        await session.Page.ReloadAsync();

        await Expect(session.Page.GetByLabel("API key")).ToHaveValueAsync(TryItBrowserFixture.Key);
        await Expect(session.Page.GetByLabel("Model").Locator("option")).ToHaveCountAsync(2);
    }

    [Fact]
    public async Task FileInput_IsReachableWithTheKeyboard()
    {
        await using var session = await OpenAsync(key: null);
        var reached = new List<string>();

        for (int i = 0; i < 6 && reached.LastOrDefault() != "file"; i++)
        {
            await session.Page.Keyboard.PressAsync("Tab");
            reached.Add(await session.Page.EvaluateAsync<string>("() => document.activeElement.id"));
        }

        Assert.Equal(["model", "top", "key", "file"], reached);
    }
}

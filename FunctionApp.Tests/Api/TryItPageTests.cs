using System.Net;
using FunctionApp.Api;
using FunctionApp.Functions;
using FunctionApp.Tests.Support;

namespace FunctionApp.Tests.Api;

/// <summary>The try-it page over plain HTTP: the same bytes from both hosts, at <c>/</c> only, with no key and nothing external.</summary>
[Trait("Category", "EndToEnd")]
public class TryItPageTests
{
    private static async Task<string> FromFunction()
    {
        await using var services = TestServices.Create();
        var request = FunctionInvoker.Request(services, "GET");
        return (await FunctionInvoker.Execute(request, PageFunctions.TryIt(request))).Body;
    }

    [Fact]
    public async Task Serve_Root_AnswersTheSamePageAsTheFunctionWithoutAKey()
    {
        using var models = new ModelRoot();
        var settings = models.Settings();
        settings["Api:ApiKey"] = "page-test-key";
        await using var server = await RunningServer.StartAsync(settings);

        using var response = await server.Client.GetAsync("/");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/html; charset=utf-8", response.Content.Headers.ContentType?.ToString());
        Assert.Equal(TryItPage.ContentSecurityPolicy, string.Join(", ", response.Headers.GetValues("Content-Security-Policy")));
        Assert.Equal(await FromFunction(), await response.Content.ReadAsStringAsync());
    }

    [Theory]
    [InlineData("/favicon.ico")]
    [InlineData("/index.html")]
    [InlineData("/api")]
    public async Task Serve_OtherPaths_AreNotThePage(string path)
    {
        using var models = new ModelRoot();
        await using var server = await RunningServer.StartAsync(models.Settings());

        using var response = await server.Client.GetAsync(path);

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
    }

    [Fact]
    public async Task Page_LoadsNothingFromAnotherOrigin()
    {
        var html = await FromFunction();

        Assert.DoesNotContain("://", html, StringComparison.Ordinal);
        Assert.DoesNotContain("http:", TryItPage.ContentSecurityPolicy, StringComparison.Ordinal);
        Assert.DoesNotContain("https:", TryItPage.ContentSecurityPolicy, StringComparison.Ordinal);
        Assert.Contains("default-src 'none'", TryItPage.ContentSecurityPolicy, StringComparison.Ordinal);
        Assert.Contains("connect-src 'self'", TryItPage.ContentSecurityPolicy, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Page_IsSmall()
    {
        Assert.InRange((await FromFunction()).Length, 1_000, 20_000);
    }
}

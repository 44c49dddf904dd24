using FunctionApp.Api;
using FunctionApp.Functions;
using FunctionApp.Tests.Support;

namespace FunctionApp.Tests.Functions;

/// <summary>The try-it page function called the way the ASP.NET Core integration calls it.</summary>
public class PageFunctionsTests
{
    [Fact]
    public async Task TryIt_Get_AnswersTheHtmlPageWithItsPolicy()
    {
        await using var services = TestServices.Create();
        var request = FunctionInvoker.Request(services, "GET");

        var response = await FunctionInvoker.Execute(request, PageFunctions.TryIt(request));

        Assert.Equal(200, response.Status);
        Assert.Equal("text/html; charset=utf-8", response.ContentType);
        Assert.StartsWith("<!doctype html>", response.Body, StringComparison.Ordinal);
        Assert.Contains("<title>Image classifier</title>", response.Body, StringComparison.Ordinal);
        Assert.Equal(TryItPage.ContentSecurityPolicy, response.Headers.ContentSecurityPolicy.ToString());
        Assert.Equal("nosniff", response.Headers.XContentTypeOptions.ToString());
    }
}

using System.Net;
using System.Text.Json;
using FunctionApp.Api;
using FunctionApp.Functions;
using FunctionApp.Tests.Support;

namespace FunctionApp.Tests.Api;

/// <summary>
/// The OpenAPI document describes exactly the API routes both hosts serve, with their methods and keys. Pages
/// (HTML for people, <see cref="ApiRoute.IsPage"/>) are routes too but not API operations: the document leaves them out.
/// </summary>
[Trait("Category", "EndToEnd")]
public class OpenApiDocumentTests
{
    private static IEnumerable<ApiRoute> Described => ApiRoutes.All.Where(r => !r.IsPage);

    private static async Task<JsonElement> FromFunction()
    {
        await using var services = TestServices.Create();
        var request = FunctionInvoker.Request(services, "GET");
        var response = await FunctionInvoker.Execute(request, PredictionFunctions.OpenApi(request));
        Assert.Equal(200, response.Status);
        return JsonDocument.Parse(response.Body).RootElement.Clone();
    }

    [Fact]
    public async Task Document_ListsEveryRouteWithItsMethodAndNothingElse()
    {
        var paths = (await FromFunction()).GetProperty("paths");

        var documented = paths.EnumerateObject().SelectMany(p => p.Value.EnumerateObject().Select(m => (Method: m.Name, Template: p.Name.TrimStart('/')))).Order().ToList();

        Assert.Equal(Described.Select(r => (r.Method, r.Template)).Order(), documented);
    }

    [Fact]
    public async Task Document_LeavesOutThePages()
    {
        var document = await FromFunction();

        Assert.Contains(ApiRoutes.All, r => r.IsPage);
        Assert.All(ApiRoutes.All.Where(r => r.IsPage), page =>
        {
            Assert.False(document.GetProperty("paths").TryGetProperty("/" + page.Template, out _), $"{page.Name} is a page, not an API operation");
            Assert.DoesNotContain(page.Name, document.GetRawText(), StringComparison.Ordinal);
        });
        Assert.False(document.GetProperty("paths").TryGetProperty("/", out _));
    }

    [Fact]
    public async Task Document_KeysMatchTheFunctionsAuthLevels()
    {
        var paths = (await FromFunction()).GetProperty("paths");

        foreach (var route in Described)
        {
            var operation = paths.GetProperty("/" + route.Template).GetProperty(route.Method);
            Assert.Equal(route.Name, operation.GetProperty("operationId").GetString());
            Assert.Equal(route.Anonymous, operation.GetProperty("security").GetArrayLength() == 0);
        }
    }

    [Fact]
    public async Task Serve_ServesTheSameDocument()
    {
        using var models = new ModelRoot();
        await using var server = await RunningServer.StartAsync(models.Settings());

        using var response = await server.Client.GetAsync("/api/openapi.json");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var document = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
        Assert.Equal("3.0.3", document.GetProperty("openapi").GetString());
        Assert.Equal((await FromFunction()).GetRawText(), document.GetRawText());
    }
}

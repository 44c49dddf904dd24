using System.Text;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc.Abstractions;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Routing;

namespace FunctionApp.Tests.Support;

/// <summary>A response as the client sees it.</summary>
public sealed record CapturedResponse(int Status, string ContentType, string Body, IHeaderDictionary Headers);

/// <summary>
/// Calls function methods the way the ASP.NET Core integration does: a real <see cref="HttpContext"/> in,
/// the returned <see cref="IActionResult"/> executed against it.
/// </summary>
public static class FunctionInvoker
{
    public static HttpRequest Request(IServiceProvider services, string method, string? contentType = null, byte[]? body = null, string query = "")
    {
        var context = new DefaultHttpContext { RequestServices = services };
        context.Request.Method = method;
        context.Request.Scheme = "http";
        context.Request.Host = new HostString("localhost");
        context.Request.QueryString = new QueryString(query);
        if (contentType is not null)
            context.Request.ContentType = contentType;
        if (body is not null)
        {
            context.Request.Body = new MemoryStream(body);
            context.Request.ContentLength = body.Length;
        }

        context.Response.Body = new MemoryStream();
        return context.Request;
    }

    public static async Task<CapturedResponse> Execute(HttpRequest request, IActionResult result)
    {
        var context = request.HttpContext;
        await result.ExecuteResultAsync(new ActionContext(context, new RouteData(), new ActionDescriptor()));
        context.Response.Body.Position = 0;
        using var reader = new StreamReader(context.Response.Body, Encoding.UTF8);
        return new CapturedResponse(context.Response.StatusCode, context.Response.ContentType ?? string.Empty, await reader.ReadToEndAsync(), context.Response.Headers);
    }

    public static async Task<(byte[] Body, string ContentType)> Multipart(params (string Name, string FileName, byte[] Data)[] files)
    {
        using var content = new MultipartFormDataContent();
        foreach (var (name, fileName, data) in files)
            content.Add(new ByteArrayContent(data), name, fileName);
        using var buffer = new MemoryStream();
        await content.CopyToAsync(buffer);
        return (buffer.ToArray(), content.Headers.ContentType!.ToString());
    }
}

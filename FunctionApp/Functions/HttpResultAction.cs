using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;

namespace FunctionApp.Functions;

/// <summary>
/// Lets a function return the same <see cref="IResult"/> the self-hosted server returns: the ASP.NET Core
/// integration executes <see cref="IActionResult"/>s on the real <see cref="HttpContext"/>.
/// </summary>
public sealed class HttpResultAction(IResult result) : IActionResult
{
    public IResult Result => result;

    public Task ExecuteResultAsync(ActionContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        return result.ExecuteAsync(context.HttpContext);
    }
}

internal static class HttpResultActionExtensions
{
    public static async Task<IActionResult> AsAction(this Task<IResult> result) => new HttpResultAction(await result);

    public static IActionResult AsAction(this IResult result) => new HttpResultAction(result);
}

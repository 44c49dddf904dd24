using FunctionApp.Api;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Azure.Functions.Worker;

namespace FunctionApp.Functions;

/// <summary>
/// The try-it page at the site root. The host shows its own landing page at <c>/</c> only when no function
/// answers there; <c>AzureWebJobsDisableHomepage=true</c> turns that page off altogether.
/// </summary>
public sealed class PageFunctions
{
    [Function("TryIt")]
    public static IActionResult TryIt(
        [HttpTrigger(AuthorizationLevel.Anonymous, "get", Route = ApiRoutes.TryIt)] HttpRequest request) =>
        TryItPage.Get().AsAction();
}

using System.CommandLine;
using FunctionApp.Hosting;
using Microsoft.Extensions.Hosting;

namespace FunctionApp.Cli;

/// <summary><c>serve [--urls URL]</c>: the HTTP API on Kestrel, without the Functions host.</summary>
internal static class ServeCommand
{
    public static Command Create()
    {
        var urls = new Option<string>("--urls") { Description = "Where to listen (semicolon-separated).", DefaultValueFactory = _ => SelfHostedServer.DefaultUrls };
        var command = new Command("serve", "Serve the HTTP API (/api and /v2 routes) on Kestrel without the Functions host.") { urls };
        command.SetAction(async (parse, ct) =>
        {
            await using var app = SelfHostedServer.Build([], parse.GetValue(urls));
            await app.StartAsync(ct);
            await app.WaitForShutdownAsync(ct);
            return 0;
        });
        return command;
    }
}

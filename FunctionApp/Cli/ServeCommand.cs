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
        // A setting that fails validation at start (such as an unset Models:Default over several models) is a message, not a crash.
        command.SetAction((parse, ct) => CommandLineApp.RunGuardedAsync(parse, async _ =>
        {
            await using var app = SelfHostedServer.Build([], parse.GetValue(urls), preloadDefaultModel: true);
            await app.StartAsync(ct);
            await app.WaitForShutdownAsync(ct);
            return 0;
        }));
        return command;
    }
}

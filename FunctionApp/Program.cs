using FunctionApp.Cli;
using FunctionApp.Hosting;
using Microsoft.Extensions.Hosting;

// The same executable is the Functions worker (launched by the Functions host) and the command line.
if (!CommandLineApp.IsWorkerLaunch(args))
    return await CommandLineApp.RunAsync(args);

await FunctionsWorkerHost.Build(args, preloadDefaultModel: true).RunAsync();
return 0;

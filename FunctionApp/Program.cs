using FunctionApp.Cli;
using FunctionApp.Hosting;
using Microsoft.Azure.Functions.Worker.Builder;
using Microsoft.Extensions.Hosting;

// The same executable is the Functions worker (launched by the Functions host) and the command line.
if (CommandLineApp.IsCommand(args))
    return await CommandLineApp.RunAsync(args);

var builder = FunctionsApplication.CreateBuilder(args);
builder.ConfigureFunctionsWebApplication();
builder.Services.AddInference();
await builder.Build().RunAsync();
return 0;

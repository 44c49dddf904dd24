using FunctionApp.Cli;
using FunctionApp.Hosting;
using FunctionApp.Inference;
using Microsoft.Extensions.Hosting;

// Large native blocks (image decodes) on pages of their own, so that memory freed after a burst goes back; the
// smaller blocks every request frees kept for the next one instead of given back and faulted in again.
NativeHeap.Configure();

// The same executable is the Functions worker (launched by the Functions host) and the command line.
if (!CommandLineApp.IsWorkerLaunch(args))
    return await CommandLineApp.RunAsync(args);

await FunctionsWorkerHost.Build(args, preloadDefaultModel: true).RunAsync();
return 0;

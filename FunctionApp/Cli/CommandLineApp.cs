using System.CommandLine;
using FunctionApp.Classification;
using FunctionApp.Imaging;
using FunctionApp.Inference;
using FunctionApp.Models;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace FunctionApp.Cli;

/// <summary>
/// The command line: <c>predict</c>, <c>train</c>, <c>evaluate</c>, <c>models</c> and
/// <c>import-fashion-mnist</c>. Each verb runs on the same services as the Functions host.
/// </summary>
public static class CommandLineApp
{
    internal static Option<bool> VerboseOption { get; } = new("--verbose")
    {
        Description = "Log progress and timings to standard error.",
        Recursive = true,
    };

    /// <summary>
    /// Whether the Functions host launched this process as its worker: the host passes where to reach it
    /// (<c>--functions-uri</c>, or <c>--host</c>/<c>--port</c> and <c>--workerId</c> in older hosts). Anything else is
    /// the command line, which answers unknown verbs and misplaced options with its usage.
    /// </summary>
    public static bool IsWorkerLaunch(IReadOnlyList<string> args)
    {
        ArgumentNullException.ThrowIfNull(args);
        return args.Any(a => a is "--functions-uri" or "--functions-worker-id" or "--workerId" or "--worker-id");
    }

    /// <summary>The exit code of a command line that could not be understood (usage errors), as shells expect.</summary>
    public const int UsageExitCode = 2;

    public static Task<int> RunAsync(string[] args, TextWriter? output = null, TextWriter? error = null, CancellationToken cancellationToken = default)
    {
        var root = new RootCommand("Image classification with ONNX models on an ML.NET pipeline.")
        {
            PredictCommand.Create(),
            ServeCommand.Create(),
            TrainCommand.Create(),
            EvaluateCommand.Create(),
            ModelsCommand.Create(),
            SliceCommand.Create(),
            AdviseCommand.Create(),
            ImportFashionMnistCommand.Create(),
        };
        root.Options.Add(VerboseOption);
        var configuration = new InvocationConfiguration
        {
            Output = output ?? Console.Out,
            Error = error ?? Console.Error,
        };
        var parse = root.Parse(args);
        if (parse.Errors.Count > 0)
            return UsageAsync(parse, configuration.Error);
        return parse.InvokeAsync(configuration, cancellationToken);
    }

    /// <summary>What was wrong with the command line, then the usage of the command it was meant for; exit code 2.</summary>
    private static async Task<int> UsageAsync(ParseResult parse, TextWriter error)
    {
        foreach (var problem in parse.Errors)
            await error.WriteLineAsync("error: " + problem.Message);
        await error.WriteLineAsync();
        var help = new StringWriter();
        var command = parse.CommandResult.Command;
        var helpParse = command.Parse(["--help"]);
        await helpParse.InvokeAsync(new InvocationConfiguration { Output = help, Error = help });
        await error.WriteAsync(help.ToString());
        return UsageExitCode;
    }

    /// <summary>Builds the shared services with configuration from the environment; logs go to standard error.</summary>
    internal static IHost BuildHost(ParseResult parse)
    {
        var host = CreateHostBuilder(parse.GetValue(VerboseOption)).Build();
        host.Start();
        return host;
    }

    /// <summary>
    /// A command's host before it is built: configuration from the environment, one-line logs on standard error (the
    /// host's own lines and ONNX Runtime's warnings kept for <paramref name="verbose"/>), and the classification stack.
    /// </summary>
    internal static HostApplicationBuilder CreateHostBuilder(bool verbose)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings
        {
            ContentRootPath = AppContext.BaseDirectory,
            DisableDefaults = false,
        });
        builder.Logging.ClearProviders();
        builder.Logging.AddSimpleConsole(o => o.SingleLine = true);

        // A one-shot verb is not a service: the host's own lines ("Application started. Press Ctrl+C to shut down.") stay out.
        builder.Logging.AddFilter((category, level) => level >= (verbose && category != "Microsoft.Hosting.Lifetime" ? LogLevel.Information : LogLevel.Warning));
        builder.Services.Configure<ConsoleLifetimeOptions>(o => o.SuppressStatusMessages = true);
        builder.Services.Configure<Microsoft.Extensions.Logging.Console.ConsoleLoggerOptions>(o => o.LogToStandardErrorThreshold = LogLevel.Trace);

        // ONNX Runtime writes its own warnings (such as weights listed among a graph's inputs) straight to standard
        // error; a command keeps them for --verbose.
        Microsoft.ML.OnnxRuntime.OrtEnv.Instance().EnvLogLevel = verbose
            ? Microsoft.ML.OnnxRuntime.OrtLoggingLevel.ORT_LOGGING_LEVEL_WARNING
            : Microsoft.ML.OnnxRuntime.OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR;
        AddClassificationStack(builder.Services);
        return builder;
    }

    /// <summary>What a command needs to classify: imaging, model execution, the catalog and the classifier (no storage, no triggers).</summary>
    internal static IServiceCollection AddClassificationStack(IServiceCollection services)
    {
        services.AddSingleton(TimeProvider.System);
        services.AddImaging();
        services.AddModelExecution();
        services.AddModelCatalog();
        services.AddClassification();
        return services;
    }

    /// <summary>Runs a verb's body, turning the failures a user can cause into a message and exit code 1.</summary>
    internal static async Task<int> RunGuardedAsync(ParseResult parse, Func<TextWriter, Task<int>> body)
    {
        var error = parse.InvocationConfiguration.Error;
        try
        {
            return await body(parse.InvocationConfiguration.Output);
        }
        catch (Exception ex) when (ex is ModelPackageException or ModelLoadException or ModelNotFoundException or ImageInputException
            or FileNotFoundException or DirectoryNotFoundException or UnauthorizedAccessException or ArgumentException
            or Microsoft.Extensions.Options.OptionsValidationException)
        {
            await error.WriteLineAsync("error: " + ex.Message);
            return 1;
        }
    }

    internal static ModelEntry ResolveModel(IServiceProvider services, string? modelDirectory)
    {
        if (string.IsNullOrWhiteSpace(modelDirectory))
            return services.GetRequiredService<ModelCatalog>().Resolve();
        var package = ModelPackage.Open(modelDirectory);
        return new ModelEntry(package.Name, package.Version, package.Directory);
    }
}

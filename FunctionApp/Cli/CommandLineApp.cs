using System.CommandLine;
using FunctionApp.Hosting;
using FunctionApp.Imaging;
using FunctionApp.Inference;
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
    private static readonly HashSet<string> Verbs = new(StringComparer.Ordinal)
    {
        "predict", "serve", "train", "evaluate", "models", "slice", "import-fashion-mnist", "--help", "-h", "-?", "--version",
    };

    internal static Option<bool> VerboseOption { get; } = new("--verbose")
    {
        Description = "Log progress and timings to standard error.",
        Recursive = true,
    };

    /// <summary>Whether the arguments ask for a command-line verb rather than the Functions worker.</summary>
    public static bool IsCommand(IReadOnlyList<string> args) => args.Count > 0 && Verbs.Contains(args[0]);

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
            ImportFashionMnistCommand.Create(),
        };
        root.Options.Add(VerboseOption);
        var configuration = new InvocationConfiguration
        {
            Output = output ?? Console.Out,
            Error = error ?? Console.Error,
        };
        return root.Parse(args).InvokeAsync(configuration, cancellationToken);
    }

    /// <summary>Builds the shared services with configuration from the environment; logs go to standard error.</summary>
    internal static IHost BuildHost(ParseResult parse)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings
        {
            ContentRootPath = AppContext.BaseDirectory,
            DisableDefaults = false,
        });
        bool verbose = parse.GetValue(VerboseOption);
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
        builder.Services.AddInference();
        var host = builder.Build();
        host.Start();
        return host;
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

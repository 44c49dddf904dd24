using System.Diagnostics;

namespace FunctionApp.Tests.Support;

/// <summary>
/// The app's executable run as a user runs it, with settings in its environment: for what only a separate process
/// shows, such as ONNX Runtime's native messages on standard error, or a host that refuses to start.
/// </summary>
public static class AppProcess
{
    public sealed record Result(int ExitCode, string Output, string Error)
    {
        public override string ToString() => $"exit code {ExitCode}{Environment.NewLine}stdout: {Output}{Environment.NewLine}stderr: {Error}";
    }

    /// <param name="arguments">The command line.</param>
    /// <param name="settings">Settings, put in the process's environment.</param>
    /// <param name="timeoutSeconds">How long it may run.</param>
    /// <param name="executable">A published app's executable; by default the build beside the tests, run by <c>dotnet</c>.</param>
    /// <summary>
    /// How the app is started: the build beside the tests through <c>dotnet</c>, or a published app's
    /// <paramref name="executable"/> in its own folder; settings go into its environment.
    /// </summary>
    public static ProcessStartInfo StartInfo(IEnumerable<string> arguments, IDictionary<string, string?>? settings, string? executable)
    {
        var start = new ProcessStartInfo(executable ?? "dotnet", executable is null ? [Path.Combine(AppContext.BaseDirectory, "FunctionApp.dll"), .. arguments] : arguments)
        {
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = executable is null ? AppContext.BaseDirectory : Path.GetDirectoryName(executable)!,
        };
        foreach (var (key, value) in settings ?? new Dictionary<string, string?>())
            start.Environment[key.Replace(":", "__", StringComparison.Ordinal)] = value;
        return start;
    }

    public static async Task<Result> RunAsync(IEnumerable<string> arguments, IDictionary<string, string?>? settings = null, int timeoutSeconds = 120, string? executable = null)
    {
        var start = StartInfo(arguments, settings, executable);
        using var process = Process.Start(start) ?? throw new InvalidOperationException("The app did not start.");
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(timeoutSeconds));
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"The app ({string.Join(' ', start.ArgumentList)}) did not finish within {timeoutSeconds} s.");
        }

        return new Result(process.ExitCode, await output, await error);
    }
}

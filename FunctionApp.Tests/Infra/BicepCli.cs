using System.Diagnostics;
using System.Reflection;
using System.Text.Json;

namespace FunctionApp.Tests.Infra;

/// <summary>
/// The real Bicep CLI from the NuGet package the test project downloads (see FunctionApp.Tests.csproj), and the
/// repository's <c>infra/</c> folder it runs on.
/// </summary>
public static class BicepCli
{
    public static readonly string InfraDirectory = Path.Combine(FindRepositoryRoot(), "infra");

    private static readonly Lazy<string> Executable = new(Locate);

    public sealed record Result(int ExitCode, string Output)
    {
        public override string ToString() => $"exit code {ExitCode}{Environment.NewLine}{Output}";
    }

    /// <summary>Every .bicep file under infra/, relative to it.</summary>
    public static IEnumerable<string> Files() =>
        Directory.EnumerateFiles(InfraDirectory, "*.bicep", SearchOption.AllDirectories)
            .Select(f => Path.GetRelativePath(InfraDirectory, f))
            .Order(StringComparer.Ordinal);

    /// <summary>Runs the CLI in infra/ and returns its exit code with stdout and stderr together (diagnostics go to stderr).</summary>
    public static Result Run(params string[] arguments)
    {
        var start = new ProcessStartInfo(Executable.Value, arguments)
        {
            WorkingDirectory = InfraDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        using var process = Process.Start(start) ?? throw new InvalidOperationException($"{start.FileName} did not start.");
        var stderr = process.StandardError.ReadToEndAsync();
        var stdout = process.StandardOutput.ReadToEnd();
        if (!process.WaitForExit(TimeSpan.FromMinutes(2)))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"bicep {string.Join(' ', arguments)} did not finish within 2 minutes.");
        }

        return new Result(process.ExitCode, (stdout + stderr.GetAwaiter().GetResult()).Trim());
    }

    /// <summary>Compiles one file to ARM JSON in a temporary folder and parses it; fails the test on any diagnostic.</summary>
    public static JsonElement Build(string relativePath)
    {
        var outputDirectory = Path.Combine(Path.GetTempPath(), "functionapp-bicep-" + Guid.NewGuid().ToString("N"));
        try
        {
            var result = Run("build", relativePath, "--outdir", outputDirectory);
            Assert.True(result.ExitCode == 0 && result.Output.Length == 0, $"bicep build {relativePath}: {result}");
            var json = Path.Combine(outputDirectory, Path.ChangeExtension(Path.GetFileName(relativePath), ".json"));
            using var document = JsonDocument.Parse(File.ReadAllText(json));
            return document.RootElement.Clone();
        }
        finally
        {
            if (Directory.Exists(outputDirectory))
                Directory.Delete(outputDirectory, recursive: true);
        }
    }

    /// <summary>The executable's path as the build wrote it into the test assembly.</summary>
    public static string? ConfiguredPath =>
        typeof(BicepCli).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().SingleOrDefault(a => a.Key == "BicepCli")?.Value;

    private static string Locate()
    {
        var path = ConfiguredPath;
        Assert.False(string.IsNullOrEmpty(path), "The test assembly names no Bicep CLI (AssemblyMetadata BicepCli in FunctionApp.Tests.csproj).");
        Assert.True(File.Exists(path), $"{path} is missing: restore downloads it (PackageDownload Azure.Bicep.CommandLine.linux-x64 in FunctionApp.Tests.csproj; linux-x64 only).");

        // NuGet keeps the package's execute bit for the owner only; make sure whoever runs the tests may run it.
        if (!OperatingSystem.IsWindows())
        {
            var mode = File.GetUnixFileMode(path);
            const UnixFileMode execute = UnixFileMode.UserExecute | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute;
            if ((mode & execute) != execute)
                File.SetUnixFileMode(path, mode | execute);
        }

        return path;
    }

    private static string FindRepositoryRoot()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "FunctionApp.sln")))
                return directory.FullName;
        }

        throw new InvalidOperationException($"No FunctionApp.sln above {AppContext.BaseDirectory}.");
    }
}

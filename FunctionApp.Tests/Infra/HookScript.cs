using System.Text.RegularExpressions;

namespace FunctionApp.Tests.Infra;

/// <summary>infra/scripts/eventgrid-subscriptions.sh, the postdeploy hook azure.yaml runs, read as text.</summary>
public static partial class HookScript
{
    public const string RelativePath = "scripts/eventgrid-subscriptions.sh";

    public static string Path => System.IO.Path.Combine(BicepCli.InfraDirectory, RelativePath);

    public static string Text => File.ReadAllText(Path);

    /// <summary>The azd environment values the script reads (<c>name=$(value NAME)</c>).</summary>
    public static IEnumerable<string> EnvironmentValues() => ValueCall().Matches(Text).Select(m => m.Groups[1].Value);

    /// <summary>The template parameters the script passes (<c>--parameters a="$x" b="$y"</c>).</summary>
    public static IEnumerable<string> TemplateParameters() =>
        Parameters().Match(Text).Groups[1].Value.Split(' ', StringSplitOptions.RemoveEmptyEntries).Select(p => p[..p.IndexOf('=', StringComparison.Ordinal)]);

    [GeneratedRegex(@"=\$\(value (\w+)\)")]
    private static partial Regex ValueCall();

    [GeneratedRegex(@"--parameters ((?:\w+=""\$\w+"" ?)+)")]
    private static partial Regex Parameters();
}

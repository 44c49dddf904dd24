namespace FunctionApp.Tests.Support;

/// <summary>
/// The fenced bash blocks of one section of the repository's README, in order. A block right after the line
/// <see cref="AzureOnlyMarker"/> needs an Azure subscription and is left out of what tests run.
/// </summary>
public static class ReadmeSection
{
    public const string AzureOnlyMarker = "<!-- needs Azure: not run by the README test -->";

    public static string RepositoryRoot { get; } = FindRepositoryRoot();

    public sealed record Block(string Code, bool NeedsAzure);

    public static IReadOnlyList<Block> BashBlocks(string heading)
    {
        var lines = File.ReadAllLines(Path.Combine(RepositoryRoot, "README.md"));
        int start = Array.IndexOf(lines, "## " + heading);
        Assert.True(start >= 0, $"README.md has no section '## {heading}'.");
        var blocks = new List<Block>();
        string? previous = null;
        for (int i = start + 1; i < lines.Length && !lines[i].StartsWith("## ", StringComparison.Ordinal); i++)
        {
            if (lines[i] == "```bash")
            {
                var code = new List<string>();
                for (i++; i < lines.Length && lines[i] != "```"; i++)
                    code.Add(lines[i]);
                blocks.Add(new Block(string.Join('\n', code), previous == AzureOnlyMarker));
            }

            if (lines[i].Trim().Length > 0)
                previous = lines[i].Trim();
        }

        return blocks;
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

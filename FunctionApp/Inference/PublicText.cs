using System.Text.RegularExpressions;

namespace FunctionApp.Inference;

/// <summary>
/// Text that leaves the process (HTTP answers, failure records, model listings) names files by their name, never by
/// where they live on this machine.
/// </summary>
public static partial class PublicText
{
    /// <summary>Replaces every absolute path (Unix or Windows) in <paramref name="text"/> with its last segment.</summary>
    public static string Scrub(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        return AbsolutePath().Replace(text, m => m.Groups["leaf"].Value);
    }

    [GeneratedRegex(@"(?<![\w.~\-])(?:[A-Za-z]:\\|/)(?:[^\s'""/\\:]+[/\\])+(?<leaf>[^\s'""/\\:]*)", RegexOptions.CultureInvariant, matchTimeoutMilliseconds: 1000)]
    private static partial Regex AbsolutePath();
}

namespace FunctionApp.Capacity;

/// <summary>
/// A font for the plots' text. SkiaSharp's dependency-free native library does not ask the system for fonts, so a
/// font file is registered with ScottPlot: the first of the usual system fonts that exists. Without one the plots
/// are drawn without text, and the report says so.
/// </summary>
public static class PlotFont
{
    public const string Name = "Report Sans";

    private static readonly string[] Candidates =
    [
        "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
        "/usr/share/fonts/dejavu/DejaVuSans.ttf",
        "/usr/share/fonts/TTF/DejaVuSans.ttf",
        "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
        "/usr/share/fonts/liberation-sans/LiberationSans-Regular.ttf",
        "/System/Library/Fonts/Supplemental/Arial.ttf",
        "/Library/Fonts/Arial.ttf",
        @"C:\Windows\Fonts\arial.ttf",
    ];

    private static readonly Lazy<string?> Registered = new(Register);

    /// <summary>The font file in use, or null when none was found.</summary>
    public static string? File => Registered.Value;

    private static string? Register()
    {
        var path = Candidates.FirstOrDefault(System.IO.File.Exists) ?? AnyTrueType();
        if (path is null)
            return null;
        ScottPlot.Fonts.AddFontFile(Name, path);
        return path;
    }

    private static string? AnyTrueType()
    {
        const string root = "/usr/share/fonts";
        try
        {
            return Directory.Exists(root)
                ? Directory.EnumerateFiles(root, "*.ttf", SearchOption.AllDirectories).Order(StringComparer.Ordinal).FirstOrDefault()
                : null;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }
}

namespace FunctionApp.Training;

/// <summary>One labelled image file.</summary>
public sealed record LabelledImage(string Path, int ClassIndex);

/// <summary>
/// A folder of labelled images, one subfolder per class (the ML.NET Model Builder convention). Classes
/// are the subfolder names in ordinal order, which is the class-index order of a model trained on it.
/// </summary>
public sealed record LabelledImageFolder(string Root, IReadOnlyList<string> Classes, IReadOnlyList<LabelledImage> Images)
{
    private static readonly HashSet<string> Extensions = new(StringComparer.OrdinalIgnoreCase) { ".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp" };

    /// <param name="root">The folder holding one subfolder per class.</param>
    /// <param name="maxPerClass">Take at most this many images of each class (the first by file name); null for all.</param>
    public static LabelledImageFolder Scan(string root, int? maxPerClass = null)
    {
        root = System.IO.Path.GetFullPath(root);
        if (!Directory.Exists(root))
            throw new DirectoryNotFoundException($"The image folder '{root}' does not exist.");
        var classes = Directory.EnumerateDirectories(root).Select(System.IO.Path.GetFileName).OfType<string>().Order(StringComparer.Ordinal).ToList();
        if (classes.Count < 2)
            throw new ArgumentException($"'{root}' needs at least two class subfolders; it has {classes.Count}.", nameof(root));

        var images = new List<LabelledImage>();
        for (int c = 0; c < classes.Count; c++)
        {
            var files = Directory.EnumerateFiles(System.IO.Path.Combine(root, classes[c]))
                .Where(f => Extensions.Contains(System.IO.Path.GetExtension(f)))
                .Order(StringComparer.Ordinal)
                .Take(maxPerClass ?? int.MaxValue)
                .ToList();
            if (files.Count == 0)
                throw new ArgumentException($"Class folder '{classes[c]}' has no images.", nameof(root));
            images.AddRange(files.Select(f => new LabelledImage(f, c)));
        }

        return new LabelledImageFolder(root, classes, images);
    }
}

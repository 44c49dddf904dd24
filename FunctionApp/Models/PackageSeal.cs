using System.Security.Cryptography;
using FunctionApp.Inference;

namespace FunctionApp.Models;

/// <summary>Lists a package's files with size and SHA-256 in its manifest, and checks files against that list.</summary>
public static class PackageSeal
{
    /// <summary>Rewrites <c>model.json</c> in <paramref name="directory"/> with every other file's size and digest.</summary>
    public static ModelManifest Seal(string directory)
    {
        var manifestPath = Path.Combine(directory, ModelManifest.FileName);
        var manifest = ModelManifest.Parse(File.ReadAllText(manifestPath));
        var files = Directory.EnumerateFiles(directory, "*", SearchOption.AllDirectories)
            .Where(f => !string.Equals(Path.GetFileName(f), ModelManifest.FileName, StringComparison.Ordinal))
            .Select(f => new PackageFile(Path.GetRelativePath(directory, f).Replace('\\', '/'), new FileInfo(f).Length, Digest(f)))
            .OrderBy(f => f.Path, StringComparer.Ordinal)
            .ToList();
        var sealedManifest = manifest with { Files = files };
        File.WriteAllText(manifestPath, sealedManifest.ToJson() + Environment.NewLine);
        return sealedManifest;
    }

    /// <summary>The problem with a downloaded file, or null when its size and digest match.</summary>
    public static string? Check(string path, PackageFile expected)
    {
        ArgumentNullException.ThrowIfNull(expected);
        var length = new FileInfo(path).Length;
        if (length != expected.Size)
            return $"'{expected.Path}' is {length:N0} bytes; the manifest says {expected.Size:N0}";
        var digest = Digest(path);
        return string.Equals(digest, expected.Sha256, StringComparison.OrdinalIgnoreCase)
            ? null
            : $"'{expected.Path}' has SHA-256 {digest}; the manifest says {expected.Sha256}";
    }

    public static string Digest(string path)
    {
        using var stream = File.OpenRead(path);
        return Convert.ToHexStringLower(SHA256.HashData(stream));
    }
}

using System.ComponentModel.DataAnnotations;

namespace FunctionApp.Imaging;

/// <summary>Limits checked before an image is fully decoded (configuration section <c>ImageLimits</c>).</summary>
public sealed class ImageLimitsOptions
{
    public const string SectionName = "ImageLimits";

    /// <summary>The largest encoded image accepted, in bytes.</summary>
    [Range(1, 512L * 1024 * 1024)]
    public long MaxBytes { get; set; } = 20L * 1024 * 1024;

    /// <summary>The most pixels (width x height) an image may declare; guards against decompression bombs.</summary>
    [Range(1, 1_000_000_000L)]
    public long MaxPixels { get; set; } = 40_000_000;

    /// <summary>
    /// The most bytes of decoded pixels the whole process holds at once (every request, blob and batch chunk together);
    /// decodes beyond it wait their turn. The default keeps a 2 GB instance with the bundled model well inside its memory.
    /// </summary>
    [Range(16L * 1024 * 1024, 64L * 1024 * 1024 * 1024)]
    public long MaxDecodedBytesInFlight { get; set; } = 320L * 1024 * 1024;
}

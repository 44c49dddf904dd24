using System.Text.Json.Serialization;

namespace FunctionApp.Imaging;

/// <summary>
/// How a decoded image becomes a model's input tensor: size, resize mode, layout, channel order,
/// pixel scale and per-channel normalisation. One spec serves every path (CLI, HTTP, blob, training).
/// </summary>
public sealed record PreprocessingSpec
{
    public required int Width { get; init; }
    public required int Height { get; init; }
    public TensorLayout Layout { get; set; } = TensorLayout.Nchw;
    public ChannelOrder ChannelOrder { get; set; } = ChannelOrder.Rgb;
    public PixelScale PixelScale { get; set; } = PixelScale.Unit;

    /// <summary>
    /// Colour channels the model reads: 3 (default), or 1 for grayscale models such as digit classifiers, which get the
    /// image's luma (ITU-R BT.601); <see cref="ChannelOrder"/> then does not apply.
    /// </summary>
    public int Channels { get; set; } = 3;

    /// <summary>Per-channel mean, in the tensor's channel order, subtracted after scaling (one value, or equal values, apply to every channel).</summary>
    public IReadOnlyList<float> Mean { get; set; } = [0f, 0f, 0f];

    /// <summary>Per-channel standard deviation, in the tensor's channel order, divided after the mean (one value, or equal values, apply to every channel).</summary>
    public IReadOnlyList<float> Std { get; set; } = [1f, 1f, 1f];

    public ResizeMode Resize { get; set; } = ResizeMode.Stretch;

    /// <summary>Convert to grayscale (ITU-R BT.601 luma) before normalising; every channel then holds the same value.</summary>
    public bool Grayscale { get; init; }

    /// <summary>
    /// With <see cref="ResizeMode.CenterCrop"/>: the length the shorter side is resized to before the
    /// centre crop (for example 256 for a 224 crop). Defaults to the larger of width and height.
    /// </summary>
    public int? ShorterSide { get; init; }

    /// <summary>Whether <paramref name="other"/> turns every image into the same tensor (the lists compared by value).</summary>
    public bool SameAs(PreprocessingSpec other)
    {
        ArgumentNullException.ThrowIfNull(other);
        return (Width, Height, Layout, ChannelOrder, PixelScale, Channels, Resize, Grayscale, ShorterSide)
            == (other.Width, other.Height, other.Layout, other.ChannelOrder, other.PixelScale, other.Channels, other.Resize, other.Grayscale, other.ShorterSide)
            && Mean.SequenceEqual(other.Mean) && Std.SequenceEqual(other.Std);
    }

    [JsonIgnore]
    public int ResizeShorterSide => ShorterSide ?? Math.Max(Width, Height);

    [JsonIgnore]
    public int TensorLength => Channels * Width * Height;

    /// <summary>The mean of tensor channel <paramref name="channel"/>.</summary>
    public float MeanOf(int channel) => Mean.Count == Channels ? Mean[channel] : Mean[0];

    /// <summary>The standard deviation of tensor channel <paramref name="channel"/>.</summary>
    public float StdOf(int channel) => Std.Count == Channels ? Std[channel] : Std[0];

    /// <summary>Returns the problems with this spec, or none.</summary>
    public IEnumerable<string> Validate()
    {
        if (Width is < 1 or > 4096 || Height is < 1 or > 4096)
            yield return $"preprocessing width and height must be between 1 and 4096 (got {Width}x{Height})";
        if (Channels is not (1 or 3))
            yield return $"preprocessing.channels must be 1 or 3 (got {Channels})";
        if (!FitsChannels(Mean))
            yield return $"preprocessing.mean must have {Channels} values, one per channel, or one value for all (got {Mean.Count})";
        if (!FitsChannels(Std))
            yield return $"preprocessing.std must have {Channels} values, one per channel, or one value for all (got {Std.Count})";
        else if (Std.Any(s => !(s > 0f) || float.IsInfinity(s)))
            yield return "preprocessing.std values must be positive and finite";
        if (Resize == ResizeMode.CenterCrop && ResizeShorterSide < Math.Max(Width, Height))
            yield return $"preprocessing.shorterSide ({ResizeShorterSide}) must be at least the crop size ({Math.Max(Width, Height)})";
    }

    private bool FitsChannels(IReadOnlyList<float> values) =>
        values.Count == Channels || (values.Count > 0 && values.All(v => v.Equals(values[0])));
}

public enum TensorLayout
{
    [JsonStringEnumMemberName("NCHW")]
    Nchw,

    [JsonStringEnumMemberName("NHWC")]
    Nhwc,
}

public enum ChannelOrder
{
    [JsonStringEnumMemberName("RGB")]
    Rgb,

    [JsonStringEnumMemberName("BGR")]
    Bgr,
}

public enum PixelScale
{
    /// <summary>Pixels as 0..1 (byte / 255).</summary>
    [JsonStringEnumMemberName("0-1")]
    Unit,

    /// <summary>Pixels as 0..255.</summary>
    [JsonStringEnumMemberName("0-255")]
    Byte,
}

public enum ResizeMode
{
    /// <summary>Resize to exactly width x height, ignoring aspect ratio.</summary>
    [JsonStringEnumMemberName("stretch")]
    Stretch,

    /// <summary>Resize the shorter side to <see cref="PreprocessingSpec.ShorterSide"/>, then crop the centre.</summary>
    [JsonStringEnumMemberName("center-crop")]
    CenterCrop,
}

using FunctionApp.Imaging;

namespace FunctionApp.Models;

/// <summary>
/// How a family of models expects its pixels: channel order, scale, normalisation and resizing. <c>models import</c>
/// starts from one and lets each field be overridden. Centre-crop presets resize the shorter side to the input size
/// divided by <see cref="CropFraction"/> (256 for a 224 input), as ImageNet evaluation does.
/// </summary>
public sealed record PreprocessingPreset(
    string Name,
    string Fits,
    TensorLayout Layout,
    ChannelOrder ChannelOrder,
    PixelScale PixelScale,
    IReadOnlyList<float> Mean,
    IReadOnlyList<float> Std,
    ResizeMode Resize,
    double CropFraction = 1.0)
{
    public static IReadOnlyList<PreprocessingPreset> All { get; } =
    [
        new("torchvision", "PyTorch and torchvision ImageNet models (ResNet, MobileNet, EfficientNet, ... exported with torch.onnx): RGB, 0-1, ImageNet mean and std, shorter side 256 then centre crop 224",
            TensorLayout.Nchw, ChannelOrder.Rgb, PixelScale.Unit, [0.485f, 0.456f, 0.406f], [0.229f, 0.224f, 0.225f], ResizeMode.CenterCrop, 0.875),
        new("caffe", "Caffe and Caffe2 models (VGG, the original ResNet and SqueezeNet releases): BGR, 0-255, per-channel ImageNet mean, shorter side 256 then centre crop 224",
            TensorLayout.Nchw, ChannelOrder.Bgr, PixelScale.Byte, [103.939f, 116.779f, 123.68f], [1f, 1f, 1f], ResizeMode.CenterCrop, 0.875),
        new("tensorflow", "TensorFlow and Keras models converted with tf2onnx (MobileNet, Inception, EfficientNet): NHWC, RGB scaled to -1..1, centre crop 87.5 %",
            TensorLayout.Nhwc, ChannelOrder.Rgb, PixelScale.Unit, [0.5f], [0.5f], ResizeMode.CenterCrop, 0.875),
        new("unit", "models trained on pixels scaled to 0-1 without normalisation (many small custom models, MNIST-style digit classifiers): stretch to the input size",
            TensorLayout.Nchw, ChannelOrder.Rgb, PixelScale.Unit, [0f], [1f], ResizeMode.Stretch),
        new("raw", "models that take raw 0-255 pixels: stretch to the input size",
            TensorLayout.Nchw, ChannelOrder.Rgb, PixelScale.Byte, [0f], [1f], ResizeMode.Stretch),
    ];

    public static string Names => string.Join(", ", All.Select(p => p.Name));

    /// <exception cref="ArgumentException">No preset has that name.</exception>
    public static PreprocessingPreset Find(string name) =>
        All.FirstOrDefault(p => string.Equals(p.Name, name, StringComparison.OrdinalIgnoreCase))
        ?? throw new ArgumentException($"There is no preset '{name}'; the presets are {Names}.");

    /// <summary>The preset's mean or std for a model with <paramref name="channels"/> channels: one grey value averages the colour ones.</summary>
    public static IReadOnlyList<float> ForChannels(IReadOnlyList<float> values, int channels)
    {
        ArgumentNullException.ThrowIfNull(values);
        if (values.Count == channels)
            return values;
        return channels == 1 ? [values.Average()] : Enumerable.Repeat(values[0], channels).ToArray();
    }
}

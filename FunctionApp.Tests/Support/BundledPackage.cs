namespace FunctionApp.Tests.Support;

/// <summary>The bundled ResNet-18 model package, as the build copies it beside the tests.</summary>
public static class BundledPackage
{
    public static string Directory => Path.Combine(AppContext.BaseDirectory, "models", "fashion-resnet18", "1");
}

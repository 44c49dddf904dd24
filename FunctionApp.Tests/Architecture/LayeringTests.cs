using System.Reflection;
using FunctionApp.Hosting;
using NetArchTest.Rules;

namespace FunctionApp.Tests.Architecture;

/// <summary>
/// The app's layers, bottom first, read from the compiled assembly's type references (not from source text):
/// a type may use its own layer and the layers below it, never one above it or a sibling beside it. Core layers
/// (imaging, telemetry, model execution, slicing) reference no Azure SDK, no Functions worker and no ASP.NET Core.
/// </summary>
public sealed class LayeringTests
{
    private static readonly Assembly App = typeof(Program).Assembly;

    /// <summary>Each entry is one layer; namespaces in the same entry are siblings that must not use each other.</summary>
    public static readonly string[][] Layers =
    [
        ["Imaging"],
        ["Telemetry"],
        ["Inference"],
        ["Slicing", "Quantization"],
        ["Storage"],
        ["Models"],
        ["Classification"],
        ["Blobs", "Batch", "Chains", "Training", "Capacity"],
        ["Triggers"],
        ["Api"],
        ["Functions"],
        ["Hosting"],
        ["Cli"],
    ];

    private static readonly string[] Core = ["Imaging", "Telemetry", "Inference", "Slicing", "Quantization"];

    public static TheoryData<string> Namespaces() => new(Layers.SelectMany(l => l));

    private static string Full(string name) => "FunctionApp." + name;

    [Theory]
    [MemberData(nameof(Namespaces))]
    public void A_layer_uses_nothing_above_it_or_beside_it(string layer)
    {
        int level = Array.FindIndex(Layers, l => l.Contains(layer));
        var forbidden = Layers.Skip(level + 1).SelectMany(l => l)
            .Concat(Layers[level].Where(sibling => sibling != layer))
            .Select(Full)
            .ToArray();
        Assert.NotEmpty(InLayer(layer));

        var result = Types.InAssembly(App).That().ResideInNamespace(Full(layer)).ShouldNot().HaveDependencyOnAny(forbidden).GetResult();

        Assert.True(result.IsSuccessful, $"{Full(layer)} uses a layer above or beside it: {string.Join(", ", result.FailingTypeNames ?? [])}");
    }

    [Theory]
    [InlineData("Imaging")]
    [InlineData("Telemetry")]
    [InlineData("Inference")]
    [InlineData("Slicing")]
    public void Core_layers_know_no_Azure_no_Functions_and_no_ASP_NET_Core(string layer)
    {
        Assert.Contains(layer, Core);
        var result = Types.InAssembly(App).That().ResideInNamespace(Full(layer))
            .ShouldNot().HaveDependencyOnAny("Azure", "Microsoft.Azure", "Microsoft.Extensions.Azure", "Microsoft.AspNetCore", "Microsoft.Extensions.Hosting")
            .GetResult();

        Assert.True(result.IsSuccessful, $"{Full(layer)} references a platform it must not: {string.Join(", ", result.FailingTypeNames ?? [])}");
    }

    [Fact]
    public void Every_namespace_of_the_app_belongs_to_a_layer()
    {
        var known = Layers.SelectMany(l => l).Select(Full).ToHashSet(StringComparer.Ordinal);
        var stray = App.GetTypes()
            .Select(t => t.Namespace)
            .Where(ns => ns is not null && ns != "FunctionApp" && ns.StartsWith("FunctionApp.", StringComparison.Ordinal))
            .Select(ns => string.Join('.', ns!.Split('.').Take(2)))
            .Where(ns => !known.Contains(ns))
            .Distinct()
            .ToList();

        Assert.Empty(stray);
    }

    /// <summary>The rule above would pass vacuously if the checker saw no references; it must see the real ones.</summary>
    [Fact]
    public void The_checker_sees_real_references_between_layers()
    {
        var hostingUsesApi = Types.InAssembly(App).That().ResideInNamespace(Full("Hosting")).ShouldNot().HaveDependencyOn(Full("Api")).GetResult();
        var classificationUsesInference = Types.InAssembly(App).That().ResideInNamespace(Full("Classification")).ShouldNot().HaveDependencyOn(Full("Inference")).GetResult();

        Assert.False(hostingUsesApi.IsSuccessful);
        Assert.Contains("FunctionApp.Hosting.SelfHostedServer", hostingUsesApi.FailingTypeNames);
        Assert.False(classificationUsesInference.IsSuccessful);
    }

    private static List<Type> InLayer(string layer) =>
        App.GetTypes().Where(t => t.Namespace is { } ns && (ns == Full(layer) || ns.StartsWith(Full(layer) + ".", StringComparison.Ordinal))).ToList();
}

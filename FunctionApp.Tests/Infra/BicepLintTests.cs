using System.Text.Json;
using FunctionApp.Tests.Support;

namespace FunctionApp.Tests.Infra;

/// <summary>
/// Every Bicep file under infra/ compiles and passes the linter with no diagnostic at all: infra/bicepconfig.json
/// makes every linter rule an error, and a compiler warning (an unknown property, a type without types) shows
/// as output, which these tests reject too.
/// </summary>
public class BicepLintTests
{
    public static TheoryData<string> Files() => new(BicepCli.Files());

    [Theory]
    [MemberData(nameof(Files))]
    public void Lint_BicepFile_HasNoDiagnostics(string file)
    {
        var result = BicepCli.Run("lint", file);

        Assert.True(result.ExitCode == 0 && result.Output.Length == 0, $"bicep lint {file}: {result}");
    }

    [Theory]
    [MemberData(nameof(Files))]
    public void Build_BicepFile_CompilesToAnArmTemplate(string file)
    {
        var template = BicepCli.Build(file);

        // deploymentTemplate.json, or subscriptionDeploymentTemplate.json for main.bicep.
        Assert.Matches("(?i)deploymentTemplate\\.json#$", template.GetProperty("$schema").GetString());
    }

    [Fact]
    public void ConfiguredPath_WhateverNuGetPackagesSays_NamesTheCliInsideThePackageFolder()
    {
        // NuGetPackageRoot has no trailing slash when NUGET_PACKAGES is set without one; the path must not glue
        // the folder to the package name ("packagesazure.bicep...").
        var path = BicepCli.ConfiguredPath;

        Assert.NotNull(path);
        Assert.Contains("/azure.bicep.commandline.linux-x64/", path, StringComparison.Ordinal);
        Assert.True(File.Exists(path), $"{path} does not exist");
    }

    [Fact]
    public void Files_AreMainAndEveryModule()
    {
        Assert.Equal(
            ["app/api.bicep", "app/eventgrid-subscriptions.bicep", "app/eventgrid.bicep", "app/identity.bicep", "app/monitoring.bicep", "app/rbac.bicep", "app/storage.bicep", "main.bicep"],
            BicepCli.Files().Select(f => f.Replace('\\', '/')).Order(StringComparer.Ordinal));
    }

    [Fact]
    public void BicepConfig_EveryLinterRule_IsAnError()
    {
        using var config = JsonDocument.Parse(File.ReadAllText(Path.Combine(BicepCli.InfraDirectory, "bicepconfig.json")));
        var core = config.RootElement.GetProperty("analyzers").GetProperty("core");
        var rules = core.GetProperty("rules").EnumerateObject().ToArray();

        Assert.True(core.GetProperty("enabled").GetBoolean());
        Assert.True(rules.Length >= 40, $"only {rules.Length} rules are configured");
        Assert.All(rules, r => Assert.Equal("error", r.Value.GetProperty("level").GetString()));
    }

    [Fact]
    public void Lint_UnusedParameterUnderTheRepositoryConfig_FailsWithAnError()
    {
        // The check above would pass on a linter that never reports: show that this configuration does.
        using var folder = new TempDirectory();
        File.Copy(Path.Combine(BicepCli.InfraDirectory, "bicepconfig.json"), folder.Sub("bicepconfig.json"));
        File.WriteAllText(folder.Sub("unused.bicep"), "param unused string\n");

        var result = BicepCli.Run("lint", folder.Sub("unused.bicep"));

        Assert.NotEqual(0, result.ExitCode);
        Assert.Contains("Error no-unused-params", result.Output, StringComparison.Ordinal);
    }
}

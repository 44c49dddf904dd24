using System.Diagnostics;
using System.Globalization;

namespace FunctionApp.Tests.Support;

/// <summary>
/// The storage emulator the tests run on: when it goes away during a test without being asked to, the test fails
/// with the emulator's exit code and last output instead of a bare "connection refused".
/// </summary>
public sealed class AzuriteTests
{
    [Fact]
    public async Task AnEmulatorThatStopsOnItsOwn_FailsTheTestWithItsExitCodeAndLastOutput()
    {
        using var azurite = new Azurite();
        await azurite.InitializeAsync();
        int id = azurite.ProcessId ?? throw new InvalidOperationException("Azurite is not running.");
        using (var kill = Process.Start("kill", ["-KILL", id.ToString(CultureInfo.InvariantCulture)]))
            await kill.WaitForExitAsync();
        await Poll.UntilAsync(() => Task.FromResult(azurite.ProcessId is null), TimeSpan.FromSeconds(10), "Azurite goes away");

        var error = await Assert.ThrowsAsync<InvalidOperationException>(azurite.DisposeAsync);
        Assert.Contains("Azurite stopped on its own with exit code 137", error.Message, StringComparison.Ordinal);
        Assert.Contains($"Azurite Queue service is successfully listening at http://127.0.0.1:{azurite.QueuePort}", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AnEmulatorAskedToStop_IsNoFailure()
    {
        using var azurite = new Azurite();
        await azurite.InitializeAsync();
        await azurite.StopAsync();
        await azurite.StartAsync();
        await azurite.DisposeAsync();
        Assert.Null(azurite.ProcessId);
    }
}

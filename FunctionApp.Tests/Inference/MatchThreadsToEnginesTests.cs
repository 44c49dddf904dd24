using FunctionApp.Inference;
using Microsoft.Extensions.Options;

namespace FunctionApp.Tests.Inference;

public class MatchThreadsToEnginesTests
{
    private static int Threads(int maxEngines, int intraOpThreads = 0)
    {
        var options = new OnnxRuntimeOptions { IntraOpThreads = intraOpThreads };
        new MatchThreadsToEngines(Options.Create(new EnginePoolOptions { MaxEngines = maxEngines })).PostConfigure(null, options);
        return options.IntraOpThreads;
    }

    [Fact]
    public void Automatic_OneEngine_GetsEveryCore() => Assert.Equal(Environment.ProcessorCount, Threads(1));

    [Fact]
    public void Automatic_OneEnginePerCore_GetsOneThreadEach() => Assert.Equal(1, Threads(Environment.ProcessorCount));

    [Fact]
    public void Automatic_MoreEnginesThanCores_StillOneThreadEach() => Assert.Equal(1, Threads(4 * Environment.ProcessorCount));

    [Fact]
    public void Set_ThreadsAreLeftAsConfigured() => Assert.Equal(3, Threads(Environment.ProcessorCount, intraOpThreads: 3));

    [Fact]
    public void Defaults_EnginesTimesThreadsMatchTheCores()
    {
        var engines = new EnginePoolOptions();
        var options = new OnnxRuntimeOptions();
        new MatchThreadsToEngines(Options.Create(engines)).PostConfigure(null, options);

        Assert.Equal(Environment.ProcessorCount, engines.MaxEngines * options.IntraOpThreads);
    }
}

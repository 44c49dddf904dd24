using FunctionApp.Imaging;
using FunctionApp.Tests.Inference;
using FunctionApp.Tests.Support;
using Microsoft.Extensions.Options;

namespace FunctionApp.Tests.Imaging;

/// <summary>
/// <see cref="CpuWork"/> counts the process's decodes and inferences: these tests run alone (with the others that
/// measure process-wide state, see <see cref="ProcessWideHeap"/>), so that no other test's work is counted beside
/// theirs. A large PNG is inflated on a second core only while nothing else is in progress.
/// </summary>
[Collection(nameof(ProcessWideHeap))]
public sealed class CpuWorkTests
{
    [Fact]
    public void Begin_CountsEachPieceOfWorkUntilItEnds()
    {
        int before = CpuWork.InProgress;
        using (var first = CpuWork.Begin())
        {
            Assert.Equal(Environment.ProcessorCount > 1, first.Alone);
            using (var second = CpuWork.Begin())
            {
                Assert.Equal(before + 2, CpuWork.InProgress);
                Assert.False(first.Alone);
                Assert.False(second.Alone);
            }

            Assert.Equal(before + 1, CpuWork.InProgress);
        }

        Assert.Equal(before, CpuWork.InProgress);
        Assert.False(default(CpuWork.Scope).Alone);
    }

    [Fact]
    public void Decode_LargePngAlone_IsInflatedAsideAndNotBesideOtherWork()
    {
        if (Environment.ProcessorCount < 2)
            Assert.Fail("This machine has one core: there is no second core to inflate on.");
        var png = PngFiles.Write(640, 480, 8, 2, PngFiles.RandomSamples(640, 480, 8, 2, seed: 3), y => y % 5);
        var decoder = new ImageDecoder(Options.Create(new ImageLimitsOptions()));
        byte[] alone = [], beside = [];

        // The inflating needs an idle pool thread within half a millisecond. The test host keeps few threads, all busy,
        // and adds more only slowly: let it start as many as asked for at once (a server has idle threads between
        // requests). Even so a busy moment can make a decode inflate inline, so a few tries.
        ThreadPool.GetMinThreads(out int workers, out int ports);
        ThreadPool.SetMinThreads(Math.Max(workers, 16), ports);
        long started = InflateAside.Started;
        try
        {
            for (int i = 0; i < 20 && InflateAside.Started == started; i++)
            {
                alone = Decode(decoder, png);
                Thread.Sleep(10);
            }
        }
        finally
        {
            ThreadPool.SetMinThreads(workers, ports);
        }

        Assert.True(InflateAside.Started > started, $"a lone decode inflates aside (work in progress {CpuWork.InProgress}, declined {InflateAside.Declined})");

        started = InflateAside.Started;
        long declined = InflateAside.Declined;
        using (CpuWork.Begin())
        {
            for (int i = 0; i < 5; i++)
                beside = Decode(decoder, png);
        }

        Assert.Equal((started, declined), (InflateAside.Started, InflateAside.Declined));
        Assert.Equal(alone, beside);
    }

    private static byte[] Decode(ImageDecoder decoder, byte[] png)
    {
        using var image = decoder.Open(png);
        using var bitmap = image.Decode(image.Width, image.Height);
        return bitmap.GetPixelSpan().ToArray();
    }
}

using FunctionApp.Imaging;
using FunctionApp.Tests.Support;
using Microsoft.Extensions.Options;

namespace FunctionApp.Tests.Imaging;

[CollectionDefinition(nameof(ProcessWideWork), DisableParallelization = true)]
public sealed class ProcessWideWork;

/// <summary>
/// <see cref="CpuWork"/> counts the process's decodes and inferences: these tests run alone, so that no other test's
/// work is counted beside theirs. A large PNG is inflated on a second core only while nothing else is in progress.
/// </summary>
[Collection(nameof(ProcessWideWork))]
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

        // The grace for a pool thread to begin is short: a busy moment can make a decode inflate inline, so a few tries.
        long started = InflateAside.Started;
        for (int i = 0; i < 20 && InflateAside.Started == started; i++)
            alone = Decode(decoder, png);
        Assert.True(InflateAside.Started > started, "a lone decode inflates aside");

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

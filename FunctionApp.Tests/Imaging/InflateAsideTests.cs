using System.IO.Compression;
using FunctionApp.Imaging;

namespace FunctionApp.Tests.Imaging;

/// <summary>
/// <see cref="InflateAside"/>: a zlib stream inflated on another thread, handed over a batch at a time through a ring
/// that it fills many times over, with the stream's end, damage and an early stop seen by the reader; and a start that
/// no thread takes up in time handed back to the caller.
/// </summary>
public class InflateAsideTests
{
    private const int Batch = 4096;

    // However busy the machine, a new thread begins within this: the tests are about the hand-over, not the grace.
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);

    [Fact]
    public void Next_GivesTheWholeStreamInBatches_ThenFinishFindsItsEnd()
    {
        var data = Data(100_000);
        using var aside = Start(Compress(data), data.Length);

        var read = ReadAll(aside, data.Length, out bool full);

        Assert.True(full);
        Assert.Equal(data, read);
        aside.Finish();
    }

    [Fact]
    public void NextOrFinish_DamagedChecksum_ThrowsInvalidData()
    {
        var data = Data(50_000);
        var zlib = Compress(data);
        zlib[^1] ^= 0x01;
        using var aside = Start(zlib, data.Length);

        // zlib checks the trailer as soon as it reaches it, which may be with the last rows.
        Assert.Throws<InvalidDataException>(() =>
        {
            ReadAll(aside, data.Length, out _);
            aside.Finish();
        });
    }

    [Fact]
    public void Next_FileCutBeforeTheChecksum_GivesEveryRowAndFinishes()
    {
        var data = Data(50_000);
        var zlib = Compress(data)[..^4];
        using var aside = InflateAside.TryStart(() => new MemoryStream(zlib), Batch, data.Length, truncated: true, OnNewThread, Patience);

        Assert.NotNull(aside);
        Assert.Equal(data, ReadAll(aside, data.Length, out bool full));
        Assert.True(full);
        aside.Finish();
    }

    [Fact]
    public void Next_StreamShorterThanTheRows_AnswersFalseForTheLastBatch()
    {
        var data = Data(30_000);
        using var aside = Start(Compress(data[..20_000]), data.Length);

        var read = ReadAll(aside, data.Length, out bool full);

        Assert.False(full);
        Assert.Equal(data[..20_000], read[..20_000]);
    }

    [Fact]
    public void Next_DamagedData_ThrowsInvalidData()
    {
        var data = Data(200_000);
        var zlib = Compress(data);
        for (int i = zlib.Length / 2; i < zlib.Length - 10; i += 37)
            zlib[i] ^= 0x5A;
        using var aside = Start(zlib, data.Length);

        Assert.Throws<InvalidDataException>(() => ReadAll(aside, data.Length, out _));
    }

    [Fact]
    public async Task Dispose_AfterOneBatch_StopsTheInflatingThread()
    {
        var data = Data(2_000_000);
        Thread? thread = null;
        var aside = InflateAside.TryStart(() => new MemoryStream(Compress(data)), Batch, data.Length, truncated: false, inflate =>
        {
            thread = new Thread(() => inflate()) { IsBackground = true };
            thread.Start();
        }, Patience);
        Assert.NotNull(aside);
        var first = new byte[Batch];
        Assert.True(aside.Next(first));

        // The inflating thread waits for room in the ring; disposing lets it go instead of reading the rest.
        await Task.Run(aside.Dispose).WaitAsync(TimeSpan.FromSeconds(30));

        Assert.Equal(data[..Batch], first);
        Assert.True(thread!.Join(TimeSpan.FromSeconds(30)));
    }

    [Fact]
    public void TryStart_NoThreadBeginsInTime_AnswersNullAndTheLateThreadLeavesTheStreamAlone()
    {
        Action? late = null;
        int opened = 0;
        long declined = InflateAside.Declined;

        var aside = InflateAside.TryStart(() => { opened++; return new MemoryStream(); }, Batch, 10_000, truncated: false, inflate => late = inflate);

        Assert.Null(aside);
        Assert.True(InflateAside.Declined > declined);
        late!();
        Assert.Equal(0, opened);
    }

    private static InflateAside Start(byte[] zlib, int total)
    {
        var aside = InflateAside.TryStart(() => new MemoryStream(zlib), Batch, total, truncated: false, OnNewThread, Patience);
        Assert.NotNull(aside);
        return aside;
    }

    private static void OnNewThread(Action inflate) => new Thread(() => inflate()) { IsBackground = true }.Start();

    private static byte[] ReadAll(InflateAside aside, int total, out bool full)
    {
        var read = new byte[total];
        full = true;
        for (int at = 0; at < total && full; at += Batch)
            full = aside.Next(read.AsSpan(at, Math.Min(Batch, total - at)));
        return read;
    }

    /// <summary>Bytes that compress somewhat, as image rows do: runs of noise.</summary>
    private static byte[] Data(int length)
    {
        var data = new byte[length];
        var random = new Random(length);
        for (int i = 0; i < length; i++)
            data[i] = (byte)(i % 64 < 40 ? random.Next(256) : i / 64);
        return data;
    }

    private static byte[] Compress(byte[] data)
    {
        using var output = new MemoryStream();
        using (var zlib = new ZLibStream(output, CompressionLevel.Fastest, leaveOpen: true))
            zlib.Write(data);
        return output.ToArray();
    }
}

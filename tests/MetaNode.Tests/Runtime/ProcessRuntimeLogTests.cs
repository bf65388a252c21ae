using System.Text;
using MetaNode.Grains.Runtime.Process;
using MetaNode.VPods;
using Microsoft.Extensions.Logging.Abstractions;

namespace MetaNode.Tests.Runtime;

public sealed class ProcessRuntimeLogTests : IDisposable
{
    private readonly string _directory = Path.Combine(Path.GetTempPath(), "metanode-process-log-tests", Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(_directory))
        {
            Directory.Delete(_directory, recursive: true);
        }
    }

    [Fact]
    public void Format_WritesTimestampStreamAndText_AndParseReadsThemBack()
    {
        var at = new DateTime(2026, 11, 29, 23, 59, 1, DateTimeKind.Utc).AddTicks(1234567);

        var bytes = ProcessLogFormat.Format(at, LogStream.Stderr, "disk ünïcode  text");
        var line = ProcessLogFormat.Parse(bytes.AsSpan(0, bytes.Length - 1));

        Assert.Equal("2026-11-29T23:59:01.1234567Z stderr disk ünïcode  text\n", Encoding.UTF8.GetString(bytes));
        Assert.Equal(new LogLine(new DateTimeOffset(at), LogStream.Stderr, "disk ünïcode  text"), line);
    }

    [Theory]
    [InlineData("")]
    [InlineData("2026-11-29T23:59:01.1234567Z")]
    [InlineData("2026-11-29T23:59:01.1234567Z stdin text")]
    [InlineData("2026-11-29 23:59:01.1234567Z stdout text")]
    [InlineData("not a timestamp at all, honestly stdout text")]
    public void Parse_ReturnsNull_ForLinesNotInTheFormat(string text)
    {
        Assert.Null(ProcessLogFormat.Parse(Encoding.UTF8.GetBytes(text)));
    }

    [Fact]
    public void Parse_ReadsAnEmptyLine()
    {
        var bytes = ProcessLogFormat.Format(DateTime.UtcNow, LogStream.Stdout, string.Empty);

        Assert.Equal(string.Empty, ProcessLogFormat.Parse(bytes.AsSpan(0, bytes.Length - 1))?.Text);
    }

    [Fact]
    public async Task Append_StampsStrictlyIncreasingTimes_WhenTheClockStandsStill()
    {
        var clock = new FrozenTimeProvider(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));
        using (var writer = new RotatingLogWriter("vpod-clock", _directory, 1024 * 1024, 3, clock, NullLogger.Instance))
        {
            writer.Append(LogStream.Stdout, "a");
            writer.Append(LogStream.Stderr, "b");
            writer.Append(LogStream.Stdout, "c");
            writer.Flush();
        }

        var lines = await ProcessLogReader.ReadAsync(_directory, new LogQuery(), CancellationToken.None);

        Assert.Equal(["a", "b", "c"], lines.Select(l => l.Text));
        Assert.Equal([clock.Now, clock.Now.AddTicks(1), clock.Now.AddTicks(2)], lines.Select(l => l.Timestamp));
    }

    [Fact]
    public async Task Append_ContinuesAfterTheLastStamp_WhenReopenedWithAnEarlierClock()
    {
        var late = new FrozenTimeProvider(new DateTimeOffset(2026, 6, 1, 0, 0, 0, TimeSpan.Zero));
        var early = new FrozenTimeProvider(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));
        using (var writer = new RotatingLogWriter("vpod-reopen", _directory, 1024 * 1024, 3, late, NullLogger.Instance))
        {
            writer.Append(LogStream.Stdout, "before restart");
        }

        using (var writer = new RotatingLogWriter("vpod-reopen", _directory, 1024 * 1024, 3, early, NullLogger.Instance))
        {
            writer.Append(LogStream.Stdout, "after restart");
        }

        var lines = await ProcessLogReader.ReadAsync(_directory, new LogQuery(), CancellationToken.None);

        Assert.Equal(["before restart", "after restart"], lines.Select(l => l.Text));
        Assert.True(lines[1].Timestamp > lines[0].Timestamp);
    }

    [Fact]
    public async Task Append_EndsALineCutShortByACrash_BeforeWritingMore()
    {
        Directory.CreateDirectory(_directory);
        var whole = ProcessLogFormat.Format(new DateTime(2026, 1, 1, 0, 0, 0, DateTimeKind.Utc), LogStream.Stdout, "whole");
        var cut = ProcessLogFormat.Format(new DateTime(2026, 1, 1, 0, 0, 1, DateTimeKind.Utc), LogStream.Stdout, "cut short")[..20];
        await File.WriteAllBytesAsync(Path.Combine(_directory, "vpod.log"), [.. whole, .. cut]);

        using (var writer = new RotatingLogWriter("vpod-crash", _directory, 1024 * 1024, 3, TimeProvider.System, NullLogger.Instance))
        {
            writer.Append(LogStream.Stdout, "next");
        }

        var lines = await ProcessLogReader.ReadAsync(_directory, new LogQuery(), CancellationToken.None);
        Assert.Equal(["whole", "next"], lines.Select(l => l.Text));
    }

    [Fact]
    public void Append_KeepsNoRotatedFile_WhenLogMaxFilesIsZero()
    {
        using var writer = new RotatingLogWriter("vpod-zero", _directory, 1024, 0, TimeProvider.System, NullLogger.Instance);
        for (var i = 0; i < 100; i++)
        {
            writer.Append(LogStream.Stdout, $"line {i}");
        }

        writer.Flush();

        Assert.Equal(["vpod.log"], Directory.GetFiles(_directory).Select(Path.GetFileName));
        Assert.True(new FileInfo(Path.Combine(_directory, "vpod.log")).Length <= 1024);
    }

    [Fact]
    public void Append_DeletesRotatedFilesBeyondLogMaxFiles_LeftByAnEarlierSetting()
    {
        using (var wide = new RotatingLogWriter("vpod-shrink", _directory, 1024, 6, TimeProvider.System, NullLogger.Instance))
        {
            for (var i = 0; i < 200; i++)
            {
                wide.Append(LogStream.Stdout, $"line {i}");
            }
        }

        Assert.Contains("vpod.log.6", Directory.GetFiles(_directory).Select(Path.GetFileName));
        using var narrow = new RotatingLogWriter("vpod-shrink", _directory, 1024, 2, TimeProvider.System, NullLogger.Instance);
        for (var i = 0; i < 30; i++)
        {
            narrow.Append(LogStream.Stdout, $"more {i}");
        }

        Assert.Equal(["vpod.log", "vpod.log.1", "vpod.log.2"], Directory.GetFiles(_directory).Select(Path.GetFileName).Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task RunAsync_SplitsOutputIntoLines_AndLongLinesWithoutCuttingCharacters()
    {
        var longText = "x" + new string('é', OutputPump.MaxLineBytes);
        var output = Encoding.UTF8.GetBytes($"one\r\ntwo\n\n{longText}\nlast without newline");
        using (var writer = new RotatingLogWriter("vpod-pump", _directory, 10 * 1024 * 1024, 1, TimeProvider.System, NullLogger.Instance))
        {
            await OutputPump.RunAsync(new MemoryStream(output), LogStream.Stdout, writer, CancellationToken.None);
        }

        var lines = await ProcessLogReader.ReadAsync(_directory, new LogQuery(), CancellationToken.None);

        Assert.Equal("one", lines[0].Text);
        Assert.Equal("two", lines[1].Text);
        Assert.Equal(string.Empty, lines[2].Text);
        var pieces = lines.Skip(3).Take(lines.Count - 4).Select(l => l.Text).ToList();
        Assert.True(pieces.Count >= 2, $"the long line came as {pieces.Count} piece(s)");
        Assert.All(pieces, p => Assert.True(Encoding.UTF8.GetByteCount(p) <= OutputPump.MaxLineBytes));
        Assert.DoesNotContain(pieces, p => p.Contains('\uFFFD', StringComparison.Ordinal));
        Assert.Equal(longText, string.Concat(pieces));
        Assert.Equal("last without newline", lines[^1].Text);
    }

    [Fact]
    public async Task ReadAsync_SkipsAPartialLastLine_UntilItIsComplete()
    {
        Directory.CreateDirectory(_directory);
        var whole = ProcessLogFormat.Format(DateTime.UtcNow, LogStream.Stdout, "whole");
        var partial = ProcessLogFormat.Format(DateTime.UtcNow.AddSeconds(1), LogStream.Stdout, "partial");
        await File.WriteAllBytesAsync(Path.Combine(_directory, "vpod.log"), [.. whole, .. partial[..^1]]);

        var lines = await ProcessLogReader.ReadAsync(_directory, new LogQuery(), CancellationToken.None);

        Assert.Equal(["whole"], lines.Select(l => l.Text));
    }

    [Fact]
    public void ParseStat_ReadsFieldsAfterACommandNameWithSpacesAndParentheses()
    {
        var stat = ProcFs.ParseStat("4242 (my (odd) name) S 1 4242 4242 0 -1 4194304 100 0 0 0 17 5 3 2 20 0 1 0 987654 1000 10 18446744073709551615");

        Assert.Equal(new ProcStat(4242, 'S', 4242, 17, 5, 3, 2, 987654), stat);
        Assert.Equal(27, stat!.Value.TotalTicks);
    }

    [Fact]
    public void ParseNetDev_SumsNonLoopbackInterfaces()
    {
        string[] lines =
        [
            "Inter-|   Receive                                                |  Transmit",
            " face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed",
            "    lo: 1000      10    0    0    0     0          0         0     1000      10    0    0    0     0       0          0",
            "  eth0: 2000      20    0    0    0     0          0         0      300       3    0    0    0     0       0          0",
            "  eth1:   50       1    0    0    0     0          0         0       70       1    0    0    0     0       0          0",
        ];

        Assert.Equal((2050L, 370L), ProcFs.ParseNetDev(lines));
    }

    private sealed class FrozenTimeProvider(DateTimeOffset now) : TimeProvider
    {
        public DateTimeOffset Now { get; } = now;

        public override DateTimeOffset GetUtcNow() => Now;
    }
}

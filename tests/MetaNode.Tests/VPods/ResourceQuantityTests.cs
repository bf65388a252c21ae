using MetaNode.VPods;

namespace MetaNode.Tests.VPods;

public sealed class ResourceQuantityTests
{
    [Theory]
    [InlineData("4Gi", 4L * 1024 * 1024 * 1024)]
    [InlineData("256Mi", 256L * 1024 * 1024)]
    [InlineData("512Ki", 512L * 1024)]
    [InlineData("1G", 1_000_000_000L)]
    [InlineData("1.5Gi", 1610612736L)]
    [InlineData("100M", 100_000_000L)]
    [InlineData("1048576", 1048576L)]
    [InlineData(" 2Gi ", 2L * 1024 * 1024 * 1024)]
    public void ParseMemory_AcceptsKubernetesStyleSizes(string text, long bytes) =>
        Assert.Equal(bytes, ResourceQuantity.ParseMemory(text));

    [Theory]
    [InlineData("")]
    [InlineData("12XB")]
    [InlineData("-1Gi")]
    [InlineData("0")]
    [InlineData("Gi")]
    [InlineData("4gi")]
    [InlineData("1e3")]
    [InlineData("99999999999Ti")]
    public void ParseMemory_RejectsBadSizes_NamingTheValue(string text)
    {
        var error = Assert.Throws<FormatException>(() => ResourceQuantity.ParseMemory(text));
        Assert.Contains($"'{text}'", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("1", 1000)]
    [InlineData("0.5", 500)]
    [InlineData("500m", 500)]
    [InlineData("2.25", 2250)]
    public void ParseCpu_AcceptsCoresAndMillicores(string text, long millis) =>
        Assert.Equal(millis, ResourceQuantity.ParseCpu(text));

    [Theory]
    [InlineData("0")]
    [InlineData("abc")]
    [InlineData("m")]
    [InlineData("-1")]
    [InlineData("0.0001")]
    public void ParseCpu_RejectsBadValues(string text) =>
        Assert.Throws<FormatException>(() => ResourceQuantity.ParseCpu(text));

    [Theory]
    [InlineData(268435456L, "256Mi")]
    [InlineData(4294967296L, "4Gi")]
    [InlineData(1000L, "1000")]
    public void FormatMemory_UsesTheLargestExactBinarySuffix(long bytes, string expected) =>
        Assert.Equal(expected, ResourceQuantity.FormatMemory(bytes));

    [Theory]
    [InlineData("1h", 3600)]
    [InlineData("30m", 1800)]
    [InlineData("90s", 90)]
    [InlineData("1h30m", 5400)]
    [InlineData("2d", 172800)]
    public void ParseSince_ReadsDurationsBackFromNow(string text, int secondsAgo)
    {
        var now = new DateTimeOffset(2026, 11, 29, 12, 0, 0, TimeSpan.Zero);
        Assert.Equal(now.AddSeconds(-secondsAgo), ResourceQuantity.ParseSince(text, now));
    }

    [Fact]
    public void ParseSince_ReadsTimestamps()
    {
        var now = DateTimeOffset.UtcNow;
        Assert.Equal(new DateTimeOffset(2026, 1, 31, 12, 0, 0, TimeSpan.Zero), ResourceQuantity.ParseSince("2026-01-31T12:00:00Z", now));
    }

    [Theory]
    [InlineData("yesterday")]
    [InlineData("5")]
    [InlineData("1x")]
    public void ParseSince_RejectsOtherText(string text) =>
        Assert.Throws<FormatException>(() => ResourceQuantity.ParseSince(text, DateTimeOffset.UtcNow));
}

using MetaNode.Federation;
using MetaNode.VPods;

namespace MetaNode.Tests.VPods;

/// <summary>One duration grammar behind every option that takes one: <c>--since</c>, <c>--round-deadline</c>, <c>--valid-for</c>.</summary>
public sealed class DurationsTests
{
    [Theory]
    [InlineData("500ms", 500)]
    [InlineData("30s", 30_000)]
    [InlineData("1.5m", 90_000)]
    [InlineData("1h30m", 5_400_000)]
    [InlineData("1H30M", 5_400_000)]
    [InlineData("2d", 172_800_000)]
    [InlineData("1m500ms", 60_500)]
    [InlineData(" 45s ", 45_000)]
    [InlineData("00:00:45", 45_000)]
    [InlineData("1.02:00:00", 93_600_000)]
    public void TryParse_ReadsUnitsCompoundsAndTimeSpans(string text, double milliseconds)
    {
        Assert.True(Durations.TryParse(text, out var duration));
        Assert.Equal(milliseconds, duration.TotalMilliseconds);
    }

    [Theory]
    [InlineData("")]
    [InlineData("5")]
    [InlineData("1x")]
    [InlineData("h")]
    [InlineData("1h30")]
    [InlineData("-5s")]
    [InlineData("1.2.3s")]
    [InlineData("99999999999999d")]
    [InlineData("-00:00:05")]
    [InlineData("yesterday")]
    public void TryParse_RefusesEverythingElse(string text)
    {
        Assert.False(Durations.TryParse(text, out var duration));
        Assert.Equal(TimeSpan.Zero, duration);
    }

    [Fact]
    public void RoundDeadline_AcceptsWhatSinceAccepts()
    {
        var spec = FederatedJobSpecParser.Parse(new FederatedJobArguments { ComputeCluster = "c", ValidatorCluster = "v", Dataset = "digits", RoundDeadline = "1h30m" });
        Assert.Equal(TimeSpan.FromMinutes(90), spec.RoundDeadline);
        var now = new DateTimeOffset(2026, 12, 4, 12, 0, 0, TimeSpan.Zero);
        Assert.Equal(now - TimeSpan.FromMinutes(90), ResourceQuantity.ParseSince("1h30m", now));
    }

    [Fact]
    public void EveryEntryPoint_AgreesWithTheOneGrammar_OnRandomText()
    {
        var random = new Random(20261204);
        const string alphabet = "0123456789.:msdhMSH x-";
        var now = new DateTimeOffset(2026, 12, 4, 12, 0, 0, TimeSpan.Zero);
        for (var n = 0; n < 20_000; n++)
        {
            var text = new string([.. Enumerable.Range(0, random.Next(0, 9)).Select(_ => alphabet[random.Next(alphabet.Length)])]);
            var parsed = Durations.TryParse(text, out var expected);
            Assert.Equal(parsed, ResourceQuantity.TryParseDuration(text, out var viaQuantity));
            Assert.Equal(parsed, FederatedJobSpecParser.TryParseDuration(text, out var viaJob));
            Assert.Equal(expected, viaQuantity);
            Assert.Equal(expected, viaJob);
            if (parsed && now - DateTimeOffset.MinValue >= expected)
            {
                Assert.Equal(now - expected, ResourceQuantity.ParseSince(text, now));
            }
            else if (parsed)
            {
                // Further back than the calendar goes: a clear error, not an arithmetic exception.
                Assert.Contains("before the year 1", Assert.Throws<FormatException>(() => ResourceQuantity.ParseSince(text, now)).Message, StringComparison.Ordinal);
            }
        }
    }
}

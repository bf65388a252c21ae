using MetaNode.Grains.Federation;

namespace MetaNode.Tests.Jobs;

public sealed class FederatedJobHistoryOptionsTests
{
    [Theory]
    [InlineData(0, false)]
    [InlineData(-3, false)]
    [InlineData(1, true)]
    [InlineData(8, true)]
    [InlineData(FederatedJobOptionsValidator.MaxHistoryPageRounds, true)]
    [InlineData(FederatedJobOptionsValidator.MaxHistoryPageRounds + 1, false)]
    public void HistoryPageRounds_OutOfRange_IsRefused_NamingTheOption(int rounds, bool valid)
    {
        var result = new FederatedJobOptionsValidator().Validate(null, new FederatedJobOptions { HistoryPageRounds = rounds });
        Assert.Equal(valid, result.Succeeded);
        if (!valid)
        {
            Assert.Contains($"MetaNode:Federation:Jobs:HistoryPageRounds must be 1 to {FederatedJobOptionsValidator.MaxHistoryPageRounds}; got '{rounds}'", result.FailureMessage, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void TheDefault_KeepsAJobsStateToAFewRounds() => Assert.Equal(8, new FederatedJobOptions().HistoryPageRounds);
}

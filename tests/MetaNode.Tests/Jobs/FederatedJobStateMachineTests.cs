using MetaNode.Federation;
using MetaNode.Grains.Federation;

namespace MetaNode.Tests.Jobs;

public sealed class FederatedJobStateMachineTests
{
    [Theory]
    [InlineData(FederatedJobPhase.Preparing, FederatedJobTrigger.Prepared, false, FederatedJobPhase.Dispatching)]
    [InlineData(FederatedJobPhase.Dispatching, FederatedJobTrigger.Dispatched, false, FederatedJobPhase.Training)]
    [InlineData(FederatedJobPhase.Training, FederatedJobTrigger.RoundClosed, false, FederatedJobPhase.Aggregating)]
    [InlineData(FederatedJobPhase.Aggregating, FederatedJobTrigger.QuorumReached, false, FederatedJobPhase.Finalizing)]
    [InlineData(FederatedJobPhase.Finalizing, FederatedJobTrigger.Confirmed, false, FederatedJobPhase.Dispatching)]
    [InlineData(FederatedJobPhase.Finalizing, FederatedJobTrigger.Confirmed, true, FederatedJobPhase.Completed)]
    [InlineData(FederatedJobPhase.Training, FederatedJobTrigger.Cancel, false, FederatedJobPhase.Cancelled)]
    [InlineData(FederatedJobPhase.Aggregating, FederatedJobTrigger.Fail, false, FederatedJobPhase.Failed)]
    public void Next_MovesToTheNextPhase_WhenTheTriggerApplies(FederatedJobPhase from, FederatedJobTrigger trigger, bool lastRound, FederatedJobPhase expected) =>
        Assert.Equal(expected, FederatedJobStateMachine.Next(from, trigger, lastRound));

    [Theory]
    [InlineData(FederatedJobPhase.Completed, FederatedJobTrigger.Cancel)]
    [InlineData(FederatedJobPhase.Cancelled, FederatedJobTrigger.Fail)]
    [InlineData(FederatedJobPhase.Training, FederatedJobTrigger.Confirmed)]
    [InlineData(FederatedJobPhase.Preparing, FederatedJobTrigger.RoundClosed)]
    public void Next_Throws_WhenTheTriggerDoesNotApply(FederatedJobPhase from, FederatedJobTrigger trigger) =>
        Assert.Throws<InvalidJobOperationException>(() => FederatedJobStateMachine.Next(from, trigger));

    [Theory]
    [InlineData(10, 10, 8, false, RoundCloseAction.Close)]
    [InlineData(10, 9, 8, false, RoundCloseAction.Wait)]
    [InlineData(10, 9, 8, true, RoundCloseAction.Close)]
    [InlineData(10, 7, 8, true, RoundCloseAction.Fail)]
    [InlineData(10, 0, 1, false, RoundCloseAction.Wait)]
    public void DecideClose_ClosesWhenAllAreInOrAtTheDeadlineWithTheMinimum(int expected, int received, int min, bool deadlinePassed, RoundCloseAction action)
    {
        var decision = FederatedJobStateMachine.DecideClose(expected, received, min, deadlinePassed);
        Assert.Equal(action, decision.Action);
        Assert.Equal(action == RoundCloseAction.Fail, decision.Reason is not null);
    }

    [Fact]
    public void Tally_PicksTheResultKValidatorsSigned_AndFlagsTheOthers_WhenOneValidatorSignsAnotherHash()
    {
        var votes = new[] { Vote("v-a", 'a'), Vote("v-b", 'b'), Vote("v-c", 'a') };

        var tally = FederatedJobStateMachine.Tally(votes, ["v-a", "v-b", "v-c", "v-d"], quorum: 2);

        Assert.True(tally.HasQuorum);
        Assert.Equal(Hash('a'), tally.Agreed!.ResultHash);
        Assert.Equal(["v-a", "v-c"], tally.Agreeing.Select(v => v.ValidatorVPodId));
        Assert.Equal(["v-b"], tally.Disagreeing);
        Assert.Equal(["v-d"], tally.Silent);
    }

    [Fact]
    public void Tally_HasNoQuorum_WhenNoResultReachesK()
    {
        var tally = FederatedJobStateMachine.Tally([Vote("v-a", 'a'), Vote("v-b", 'b')], ["v-a", "v-b", "v-c"], quorum: 2);

        Assert.False(tally.HasQuorum);
        Assert.Empty(tally.Agreeing);
        Assert.Equal(["v-c"], tally.Silent);

        // v-c may still side with v-a or v-b: worth waiting for.
        Assert.True(FederatedJobStateMachine.QuorumStillPossible(tally, quorum: 2));
    }

    [Fact]
    public void QuorumStillPossible_IsFalse_WhenEveryValidatorAnsweredWithoutAgreeing()
    {
        var tally = FederatedJobStateMachine.Tally([Vote("v-a", 'a'), Vote("v-b", 'b'), Vote("v-c", 'c')], ["v-a", "v-b", "v-c"], quorum: 2);

        Assert.False(FederatedJobStateMachine.QuorumStillPossible(tally, quorum: 2));
    }

    [Fact]
    public void QuorumStillPossible_IsTrue_WhenOnlyOneOfThreeValidatorsAnswered()
    {
        var tally = FederatedJobStateMachine.Tally([Vote("v-b", 'b')], ["v-a", "v-b", "v-c"], quorum: 2);

        Assert.True(FederatedJobStateMachine.QuorumStillPossible(tally, quorum: 2));
    }

    [Fact]
    public void Tally_CountsAValidatorOnce_WhenItsVoteArrivesTwice()
    {
        var tally = FederatedJobStateMachine.Tally([Vote("v-a", 'a'), Vote("v-a", 'a'), Vote("v-b", 'b')], ["v-a", "v-b", "v-c"], quorum: 2);

        Assert.False(tally.HasQuorum);
    }

    private static string Hash(char c) => "0x" + new string(c, 64);

    private static ValidatorVote Vote(string id, char hash) => new()
    {
        ValidatorVPodId = id,
        Signer = "0x" + new string('1', 40),
        Signature = "0x",
        ResultHash = Hash(hash),
        ReceiptsRoot = Hash('f'),
        ModelRef = Hash('d'),
    };
}

using MetaNode.Federation;
using MetaNode.Grains.Federation;

namespace MetaNode.Tests.Jobs;

public sealed class QuorumVoteCollectorTests
{
    private static readonly string[] Validators = ["v-a", "v-b", "v-c"];
    private static readonly TimeSpan HangGuard = TimeSpan.FromSeconds(10);

    private sealed class Answers
    {
        public Dictionary<string, TaskCompletionSource<ValidatorVote?>> Pending { get; } =
            Validators.ToDictionary(id => id, _ => new TaskCompletionSource<ValidatorVote?>(TaskCreationOptions.RunContinuationsAsynchronously));

        public Task<ValidatorVote?> Ask(string id) => Pending[id].Task;

        public void Vote(string id, string result) => Pending[id].SetResult(VoteOf(id, result));
    }

    private static ValidatorVote VoteOf(string id, string result) => new()
    {
        ValidatorVPodId = id,
        Signer = "0x" + new string('1', 40),
        Signature = "0x",
        ResultHash = result,
        ReceiptsRoot = "root",
        ModelRef = "ref",
    };

    /// <summary>The grace the collector waits out: started (with its length) when the quorum agreed, over when the test says.</summary>
    private sealed class Grace
    {
        public TaskCompletionSource<TimeSpan> Started { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public TaskCompletionSource Over { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public Task Wait(TimeSpan length, CancellationToken token)
        {
            Started.TrySetResult(length);
            return Over.Task.WaitAsync(token);
        }
    }

    private static Task<CollectedVotes> Collect(Answers answers, TimeSpan grace, Grace? waits = null, Func<ValidatorVote?, ValidatorVote?>? check = null) =>
        QuorumVoteCollector.CollectAsync(Validators, answers.Ask, check ?? (v => v), quorum: 2, grace, (waits ?? new Grace()).Wait, CancellationToken.None);

    [Fact]
    public async Task WithNoGrace_ItReturnsAsSoonAsTheQuorumAgrees_WithoutTheValidatorStillWorking()
    {
        var answers = new Answers();
        var collecting = Collect(answers, TimeSpan.Zero);
        answers.Vote("v-c", "h1");
        Assert.False(collecting.IsCompleted);
        answers.Vote("v-a", "h1");

        var votes = await collecting.WaitAsync(HangGuard);
        Assert.Equal(["v-a", "v-c"], votes.Valid.Select(v => v.ValidatorVPodId).Order(StringComparer.Ordinal));
        Assert.Equal(["v-a", "v-c"], votes.Answered.Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task WithAGrace_ALateVoteWithinItIsKept_AndOneBeyondItIsNotWaitedFor()
    {
        var grace = new Grace();
        var answers = new Answers();
        var collecting = Collect(answers, TimeSpan.FromSeconds(5), grace);
        answers.Vote("v-a", "h1");
        answers.Vote("v-b", "h1");
        Assert.Equal(TimeSpan.FromSeconds(5), await grace.Started.Task.WaitAsync(HangGuard));
        Assert.False(collecting.IsCompleted);
        answers.Vote("v-c", "h2");
        var votes = await collecting.WaitAsync(HangGuard);
        Assert.Equal(Validators, votes.Answered.Order(StringComparer.Ordinal));
        Assert.Equal(3, votes.Valid.Count);

        var over = new Grace();
        var silent = new Answers();
        var waiting = Collect(silent, TimeSpan.FromSeconds(5), over);
        silent.Vote("v-a", "h1");
        silent.Vote("v-b", "h1");
        await over.Started.Task.WaitAsync(HangGuard);
        Assert.False(waiting.IsCompleted);
        over.Over.SetResult();
        var partial = await waiting.WaitAsync(HangGuard);
        Assert.Equal(["v-a", "v-b"], partial.Answered.Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task WithoutAQuorum_ItWaitsForEveryValidator_AndInvalidOrFailedAnswersCountAsAnswered()
    {
        var answers = new Answers();
        var collecting = Collect(answers, TimeSpan.Zero, check: v => v?.ResultHash == "forged" ? null : v);
        answers.Vote("v-a", "h1");
        answers.Vote("v-b", "forged");
        Assert.False(collecting.IsCompleted);
        answers.Pending["v-c"].SetResult(null);

        var votes = await collecting.WaitAsync(HangGuard);
        Assert.Equal(["v-a"], votes.Valid.Select(v => v.ValidatorVPodId));
        Assert.Equal(Validators, votes.Answered.Order(StringComparer.Ordinal));
        Assert.False(FederatedJobStateMachine.Tally(votes.Valid, Validators, 2).HasQuorum);
    }

    [Fact]
    public async Task TwoValidatorsThatDisagree_DoNotEndTheWait()
    {
        var answers = new Answers();
        var collecting = Collect(answers, TimeSpan.Zero);
        answers.Vote("v-a", "h1");
        answers.Vote("v-b", "h2");
        Assert.False(collecting.IsCompleted);
        answers.Vote("v-c", "h2");

        var votes = await collecting.WaitAsync(HangGuard);
        Assert.Equal(["v-b", "v-c"], FederatedJobStateMachine.Tally(votes.Valid, Validators, 2).Agreeing.Select(v => v.ValidatorVPodId));
    }

    [Fact]
    public void QuorumGrace_OutOfRange_IsRefused_NamingTheOption()
    {
        var validator = new FederatedJobOptionsValidator();
        Assert.True(validator.Validate(null, new FederatedJobOptions { QuorumGrace = TimeSpan.FromSeconds(2) }).Succeeded);
        var result = validator.Validate(null, new FederatedJobOptions { QuorumGrace = TimeSpan.FromSeconds(-1) });
        Assert.True(result.Failed);
        Assert.Contains("MetaNode:Federation:Jobs:QuorumGrace must be 0 to 1 hour", result.FailureMessage, StringComparison.Ordinal);
    }
}

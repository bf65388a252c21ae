using MetaNode.Federation;

namespace MetaNode.Grains.Federation;

/// <summary>The votes a round collected: the valid ones, and the validators that answered (a failed or invalid answer is an answer).</summary>
public sealed record CollectedVotes(IReadOnlyList<ValidatorVote> Valid, IReadOnlyList<string> Answered);

/// <summary>
/// Asks every validator at once and checks each vote as it comes; returns when all have answered, or once
/// <c>quorum</c> valid votes agree and <c>grace</c> has passed since (zero: at once). A validator still working then
/// is neither waited for nor counted. <c>delay</c> waits out the grace (the grain's clock).
/// </summary>
public static class QuorumVoteCollector
{
    public static async Task<CollectedVotes> CollectAsync(
        IReadOnlyList<string> validators,
        Func<string, Task<ValidatorVote?>> vote,
        Func<ValidatorVote?, ValidatorVote?> check,
        int quorum,
        TimeSpan grace,
        Func<TimeSpan, CancellationToken, Task> delay,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(validators);
        ArgumentNullException.ThrowIfNull(vote);
        ArgumentNullException.ThrowIfNull(check);
        ArgumentNullException.ThrowIfNull(delay);
        var pending = validators.Distinct(StringComparer.Ordinal).ToDictionary(vote, id => id);
        var valid = new List<ValidatorVote>();
        var answered = new List<string>();
        using var stopGrace = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        Task? graceOver = null;
        while (pending.Count > 0)
        {
            IEnumerable<Task> waitingOn = pending.Keys;
            var next = await Task.WhenAny(graceOver is null ? waitingOn : waitingOn.Append(graceOver));
            if (next == graceOver)
            {
                break;
            }

            var answer = (Task<ValidatorVote?>)next;
            answered.Add(pending[answer]);
            pending.Remove(answer);
            if (check(await answer) is { } accepted)
            {
                valid.Add(accepted);
            }

            if (graceOver is null && pending.Count > 0 && FederatedJobStateMachine.Tally(valid, validators, quorum).HasQuorum)
            {
                graceOver = grace <= TimeSpan.Zero ? Task.CompletedTask : delay(grace, stopGrace.Token);
            }
        }

        await stopGrace.CancelAsync();
        return new CollectedVotes(valid, answered);
    }
}

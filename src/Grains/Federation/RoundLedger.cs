using MetaNode.Chain;
using MetaNode.Federation;
using RoundResult = MetaNode.Federation.RoundResult;

namespace MetaNode.Grains.Federation;

/// <summary>
/// A federated job's round bookkeeping, as functions of the job's state: the result and timings a finalized round records, the
/// updates it flags as rejected, and the state a job carries into its next round.
/// </summary>
public static class RoundLedger
{
    /// <summary>
    /// What the validators rejected, and what the job refused from vPods that never sent an acceptable update (neither a participant
    /// nor already rejected), by ordinal vPod id.
    /// </summary>
    public static List<RejectedUpdate> Rejected(ValidatorVote agreed, IReadOnlyDictionary<string, string> refused)
    {
        ArgumentNullException.ThrowIfNull(agreed);
        ArgumentNullException.ThrowIfNull(refused);
        return agreed.Rejected
            .Concat(refused.Where(r => !agreed.Participants.Contains(r.Key, StringComparer.Ordinal) && !agreed.Rejected.Any(x => x.VPodId == r.Key)).Select(r => new RejectedUpdate(r.Key, r.Value)))
            .OrderBy(r => r.VPodId, StringComparer.Ordinal)
            .ToList();
    }

    /// <summary>The finalized round's result: the agreed vote, the validators behind it and the chain's transaction.</summary>
    public static RoundResult Result(
        string jobId,
        FederatedJobState state,
        string modelCid,
        List<TrainingReceipt> receipts,
        List<ValidatorSignature> signatures,
        FinalizationResult outcome)
    {
        ArgumentNullException.ThrowIfNull(state);
        ArgumentNullException.ThrowIfNull(outcome);
        var agreed = state.Votes[0];
        var evaluation = Evaluation(state.Votes);
        return new RoundResult
        {
            Job = jobId,
            Round = state.Round,
            Participants = agreed.Participants,
            TotalSamples = agreed.TotalSamples,
            ResultHash = agreed.ResultHash,
            ReceiptsRoot = agreed.ReceiptsRoot,
            Aggregation = state.Spec!.Robust,
            Rejected = Rejected(agreed, state.Refused),
            Accuracy = evaluation?.Accuracy,
            Loss = evaluation?.Loss,
            ModelRef = agreed.ModelRef,
            ModelCid = modelCid,
            Receipts = receipts,
            TxHash = outcome.TransactionHash ?? outcome.Record.TransactionHash,
            Validators = state.Votes.Select(v => v.ValidatorVPodId).ToList(),
            DisagreeingValidators = state.Disagreeing.ToList(),
            Signatures = signatures,
            StateHash = agreed.StateHash,
            StateSignatures = agreed.StateHash is null ? [] : ValidatorVoteVerification.StateSignatures(state.Votes),
        };
    }

    /// <summary>Each agreeing validator's workload evaluated the same model on its held-out split; the first one's figures are the round's.</summary>
    public static RoundEvaluation? Evaluation(IEnumerable<ValidatorVote> votes) =>
        votes.Select(v => v.Evaluation).FirstOrDefault(e => e is not null);

    /// <summary>The slowest training the round's participants reported: the secure transcript's, or the accepted updates'.</summary>
    public static double SlowestTrainingMs(FederatedJobState state, SecureTranscript? secure)
    {
        ArgumentNullException.ThrowIfNull(state);
        return secure is not null
            ? secure.TrainingMs.Values.DefaultIfEmpty().Max()
            : state.Closed.Where(state.Updates.ContainsKey).Select(id => state.Updates[id].TrainingMs).DefaultIfEmpty().Max();
    }

    /// <summary>The finalized round's stage durations, measured from its start (or <paramref name="now"/> when it has none).</summary>
    public static RoundTimings Timings(FederatedJobState state, double slowestTrainingMs, double finalizationMs, DateTimeOffset now, long? gasUsed)
    {
        ArgumentNullException.ThrowIfNull(state);
        var started = state.RoundStartedAt ?? now;
        return new RoundTimings
        {
            Round = state.Round,
            DispatchMs = state.DispatchMs,
            SlowestTrainingMs = slowestTrainingMs,
            CollectionMs = ((state.ClosedAt ?? now) - started).TotalMilliseconds,
            StreamDeliveryMs = state.Votes.Select(v => v.SlowestDeliveryMs).DefaultIfEmpty().Max(),
            AggregationMs = state.AggregationMs,
            FinalizationMs = finalizationMs,
            TotalMs = (now - started).TotalMilliseconds,
            GasUsed = gasUsed ?? 0,
        };
    }

    /// <summary>Moves the state to the round after <paramref name="finished"/>: the finished round's updates, votes and clocks are dropped.</summary>
    public static void BeginNextRound(FederatedJobState state, int finished)
    {
        ArgumentNullException.ThrowIfNull(state);
        state.Round = finished + 1;
        state.SecureTranscript = null;
        state.Updates.Clear();
        state.Refused.Clear();
        state.Closed = [];
        state.Votes = [];
        state.Disagreeing = [];
        state.RoundStartedAt = null;
        state.Deadline = null;
        state.ClosedAt = null;
    }
}

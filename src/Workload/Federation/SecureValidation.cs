using MetaNode.Federation;
using MetaNode.Federation.SecureAggregation;
using MetaNode.Workloads;

namespace MetaNode.Workload.Federation;

/// <summary>
/// <c>POST /v2/secagg/aggregate</c>, a validator's secure round: check the transcript and unmask the sum
/// (<see cref="SecureRoundAggregator"/>), then evaluate and sign exactly as <c>/v2/aggregate</c> does, under the same equivocation guard.
/// </summary>
public sealed class SecureValidation(RoundValidation validation)
{
    public AggregateResponse Aggregate(SecAggAggregateRequest? request)
    {
        if (request is null)
        {
            throw new InvalidWorkloadRequestException("The body must be a JSON object with job, round, chainId, registry, seed, threshold, global, participants, keys, survivors, survivorSignatures, updates and reveals.");
        }

        var facts = RoundValidation.Facts(new AggregateRequest(request.Job, request.Round, request.ChainId, request.Registry, "none", request.Global, request.Standardization, request.Participants, []));
        var server = RoundValidation.ServerStep(request.ServerOptimizer, request.OptimizerState, facts.Global);
        var secure = new SecureRoundFacts(facts.Job, facts.Round, facts.ChainId, request.Seed, request.Threshold, facts.Global, facts.Participants);
        RoundAggregate aggregate;
        try
        {
            aggregate = SecureRoundAggregator.Aggregate(
                secure,
                [.. (request.Keys ?? []).Where(k => k is not null).Select(k => new AdvertisedKeys(k.VPodId ?? string.Empty, SecureCompute.TryBytes(k.CipherKey) ?? [], SecureCompute.TryBytes(k.MaskKey) ?? [], k.Signature))],
                request.Survivors ?? [],
                [.. (request.SurvivorSignatures ?? []).Where(s => s is not null).Select(s => new SurvivorSignature(s.VPodId ?? string.Empty, s.Signature))],
                [.. (request.Updates ?? []).Where(u => u?.Receipt is not null).Select(u => new MaskedUpdate(u.Receipt.ToReceipt(), u.Masked ?? [], u.MaskedWith ?? [], u.MaxSamples))],
                [.. (request.Reveals ?? []).Where(r => r is not null).Select(Reveal)]);
        }
        catch (SecureAggregationException ex)
        {
            throw new WorkloadConflictException($"job '{facts.Job}' round {facts.Round} cannot be unmasked: {ex.Message}");
        }

        return validation.SignAggregate(facts.Job, facts.Round, request.ChainId, request.Registry, aggregate, aggregate.Model!, request.Standardization, server);
    }

    private static ShareReveal Reveal(SecAggRevealDto reveal)
    {
        var shares = new List<RevealedShare>();
        foreach (var share in reveal.Shares ?? [])
        {
            // A share that cannot even be read is kept as an empty one: the revealer's signature then fails, and its shares are unused.
            shares.Add(new RevealedShare(share?.Peer ?? string.Empty, SecAggEncoding.ParseKind(share?.Kind) ?? ShareKind.MaskKey, SecureCompute.TryBytes(share?.Share) ?? []));
        }

        return new ShareReveal(reveal.VPodId ?? string.Empty, shares, reveal.Signature);
    }
}

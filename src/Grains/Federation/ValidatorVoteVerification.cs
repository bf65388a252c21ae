using System.Security.Cryptography;
using MetaNode.Chain;
using MetaNode.Federation;
using ChainRoundResult = MetaNode.Chain.RoundResult;

namespace MetaNode.Grains.Federation;

/// <summary>
/// What a federated job checks of its validators' votes, as pure functions: the round record a vote signs, whether its signatures
/// recover to the validator's proved address (and its server-optimizer state is the job's), and whether the agreed model is the
/// one the agreed hashes name.
/// </summary>
public static class ValidatorVoteVerification
{
    /// <summary>What a vote signed: the round's fields and the CID of the vote's model (computed here unless the caller has it).</summary>
    public static ChainRoundResult RoundRecord(string jobId, int round, ValidatorVote vote, string? modelCid = null)
    {
        ArgumentNullException.ThrowIfNull(vote);
        return new()
        {
            JobId = jobId,
            Round = round,
            ResultHash = vote.ResultHash,
            ReceiptsRoot = vote.ReceiptsRoot,
            ModelRef = vote.ModelRef,
            ModelCid = modelCid ?? ModelCid(vote.Model),
        };
    }

    /// <summary>The model's CID as <c>ipfs add --cid-version 1</c> computes it (raw leaves of 256 KiB, a dag-pb root above them).</summary>
    public static string ModelCid(byte[] model) => MetaNode.Storage.UnixFsFile.ComputeCid(model).ToString();

    /// <summary>The votes' FinalizeRound signatures, in the votes' order.</summary>
    public static List<ValidatorSignature> Signatures(IEnumerable<ValidatorVote> votes) =>
        votes.Select(v => new ValidatorSignature(v.Signer, v.Signature, v.ValidatorVPodId)).ToList();

    /// <summary>The votes' ServerState signatures, in the votes' order (each vote of a stateful optimizer carries one).</summary>
    public static List<ValidatorSignature> StateSignatures(IEnumerable<ValidatorVote> votes) =>
        votes.Select(v => new ValidatorSignature(v.Signer, v.StateSignature!, v.ValidatorVPodId)).ToList();

    /// <summary>
    /// The vote's FinalizeRound signature recovers to the validator's proved address (<paramref name="addresses"/>); with a stateful
    /// server optimizer, so does its ServerState signature, and the state it returned is <paramref name="optimizer"/>'s and hashes to
    /// the signed state hash. Without one the vote carries no state.
    /// </summary>
    public static bool IsValid(
        RegistryDomain domain,
        string jobId,
        int round,
        ValidatorVote vote,
        IReadOnlyDictionary<string, string> addresses,
        ServerOptimizer? optimizer)
    {
        ArgumentNullException.ThrowIfNull(vote);
        ArgumentNullException.ThrowIfNull(addresses);
        try
        {
            var digest = RegistryTypedData.FinalizeDigest(domain, RoundRecord(jobId, round, vote));
            if (!addresses.TryGetValue(vote.ValidatorVPodId, out var address)
                || !string.Equals(RegistryTypedData.Recover(digest, vote.Signature), address, StringComparison.OrdinalIgnoreCase))
            {
                return false;
            }

            if (optimizer is not { HasState: true })
            {
                return vote.OptimizerState is null && vote.StateHash is null;
            }

            if (vote.OptimizerState is not { } encoded || vote.StateHash is not { } stateHash || vote.StateSignature is not { } stateSignature)
            {
                return false;
            }

            var (stateOptimizer, state) = ServerOptimization.Decode(encoded);
            return stateOptimizer == optimizer
                && string.Equals(ServerOptimization.HashHex(optimizer, state), stateHash, StringComparison.OrdinalIgnoreCase)
                && string.Equals(RegistryTypedData.Recover(RegistryTypedData.ServerStateDigest(domain, jobId, round, vote.ResultHash, stateHash), stateSignature), address, StringComparison.OrdinalIgnoreCase);
        }
        catch (Exception exception) when (exception is InvalidChainRequestException or FormatException or ArgumentException)
        {
            return false;
        }
    }

    /// <summary>The votes whose signatures are valid (<see cref="IsValid"/>), in order; null votes (silent validators) are left out.</summary>
    public static List<ValidatorVote> ValidVotes(
        IEnumerable<ValidatorVote?> votes,
        RegistryDomain domain,
        string jobId,
        int round,
        IReadOnlyDictionary<string, string> addresses,
        ServerOptimizer? optimizer) =>
        votes.OfType<ValidatorVote>().Where(v => IsValid(domain, jobId, round, v, addresses, optimizer)).ToList();

    /// <summary>The validators outside the agreeing votes, in ordinal order.</summary>
    public static List<string> Disagreeing(IEnumerable<string> validators, IEnumerable<ValidatorVote> agreeing) =>
        validators.Except(agreeing.Select(v => v.ValidatorVPodId), StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList();

    /// <summary>
    /// Why the agreed vote's model cannot be finalized, or null: it must decode, hash (Keccak-256 of the canonical encoding) to the
    /// agreed result hash, and its SHA-256 must be the agreed model reference.
    /// </summary>
    public static string? AgreedModelProblem(ValidatorVote agreed)
    {
        ArgumentNullException.ThrowIfNull(agreed);
        var model = ModelEncoding.Decode(agreed.Model);
        if (!string.Equals(ModelEncoding.HashHex(model), agreed.ResultHash, StringComparison.OrdinalIgnoreCase))
        {
            return $"the agreed model does not hash to the agreed result {agreed.ResultHash}";
        }

        return !string.Equals(FederationHashing.ToHex(SHA256.HashData(agreed.Model)), agreed.ModelRef, StringComparison.OrdinalIgnoreCase)
            ? $"the agreed model does not hash to the agreed model reference {agreed.ModelRef}"
            : null;
    }
}

using MetaNode.Security;
using MetaNode.VPods;
using Orleans.Concurrency;

namespace MetaNode.Chain;

/// <summary>The silo's view of the chain: status, registry deployment, validator set, rounds. Key: <see cref="ChainKeys.Default"/>.</summary>
[Alias("MetaNode.Chain.IChainGrain")]
public interface IChainGrain : IGrainWithStringKey
{
    [Alias("GetStatus"), RequiresRole(AccessRole.Viewer), AlwaysInterleave]
    Task<ChainStatus> GetStatusAsync(CancellationToken cancellationToken = default);

    /// <summary>Deploys a new ResultRegistry and makes it the registry every silo uses.</summary>
    [Alias("Deploy"), RequiresRole(AccessRole.Admin, Mutates = true)]
    Task<ChainStatus> DeployRegistryAsync(DeployRegistryCommand command, CancellationToken cancellationToken = default);

    [Alias("GetValidators"), RequiresRole(AccessRole.Viewer), AlwaysInterleave]
    Task<ValidatorSet> GetValidatorsAsync(CancellationToken cancellationToken = default);

    /// <summary>The round as recorded on chain, with the event's fields checked against the registry's commitment.</summary>
    [Alias("GetRound"), RequiresRole(AccessRole.Viewer), AlwaysInterleave]
    Task<RoundRecord> GetRoundAsync(string jobId, long round, CancellationToken cancellationToken = default);

    /// <summary>Collects signatures from validator vPods and has the operator account submit <c>finalizeRound</c> once.</summary>
    [Alias("Finalize"), RequiresRole(AccessRole.Admin, Mutates = true)]
    Task<FinalizationResult> FinalizeRoundAsync(FinalizeRoundCommand command, CancellationToken cancellationToken = default);

    /// <summary>The registry's current address (after any <c>chain deploy</c>), or null when the chain is off.</summary>
    [Alias("GetRegistry"), RequiresRole(AccessRole.Viewer), AlwaysInterleave]
    Task<string?> GetRegistryAsync(CancellationToken cancellationToken = default);

    /// <summary>Rotates the registry's validator set to <paramref name="validators"/>, signed by k validator vPods of the current set.</summary>
    [Alias("Rotate"), RequiresRole(AccessRole.Admin, Mutates = true)]
    Task<ValidatorSet> RotateValidatorsAsync(IReadOnlyList<string> validators, int threshold, CancellationToken cancellationToken = default);
}

/// <summary>
/// One chain account (key: its address, lower case): the only submitter for that key. It serialises nonces,
/// estimates gas under caps, pays EIP-1559 fees, polls receipts, waits for confirmations, retries transport errors
/// and replaces a stuck transaction.
/// </summary>
[Alias("MetaNode.Chain.IChainAccountGrain")]
[SiloOnly]
public interface IChainAccountGrain : IGrainWithStringKey
{
    /// <summary>
    /// Submits <c>finalizeRound</c> unless the round is already on chain; a resubmission is recognised and reported. The registry's
    /// current validators, which the call carries besides the signatures, are read with it (one <c>eth_call</c>).
    /// </summary>
    [Alias("FinalizeRound")]
    Task<FinalizationResult> FinalizeRoundAsync(string registry, RoundResult round, IReadOnlyList<ValidatorSignature> signatures, CancellationToken cancellationToken = default);

    /// <summary>As <see cref="FinalizeRoundAsync"/>, with the registry's current <paramref name="validators"/> as the caller has just read them.</summary>
    [Alias("FinalizeRoundInSet")]
    Task<FinalizationResult> FinalizeRoundInSetAsync(string registry, RoundResult round, IReadOnlyList<ValidatorSignature> signatures, IReadOnlyList<string> validators, CancellationToken cancellationToken = default);

    /// <summary>
    /// As <see cref="FinalizeRoundAsync"/>, sending exactly the registry's threshold k of <paramref name="signatures"/>: those of the
    /// k lowest signer addresses (the registry's threshold and validators are read in one <c>eth_call</c> when the call is made, so a
    /// rotation between rounds is followed).
    /// </summary>
    [Alias("FinalizeRoundWithThreshold")]
    Task<FinalizationResult> FinalizeRoundWithThresholdAsync(string registry, RoundResult round, IReadOnlyList<ValidatorSignature> signatures, CancellationToken cancellationToken = default);

    /// <summary>Deploys a ResultRegistry; returns the receipt with the contract address.</summary>
    [Alias("DeployRegistry")]
    Task<TransactionResult> DeployRegistryAsync(IReadOnlyList<string> validators, int threshold, CancellationToken cancellationToken = default);

    [Alias("RotateValidators")]
    Task<TransactionResult> RotateValidatorsAsync(string registry, IReadOnlyList<string> validators, int threshold, IReadOnlyList<ValidatorSignature> signatures, CancellationToken cancellationToken = default);

    [Alias("GetUsage"), AlwaysInterleave]
    Task<BlockchainUsage> GetUsageAsync(CancellationToken cancellationToken = default);
}

/// <summary>Polls the registry's logs from a persisted checkpoint and publishes typed events on <see cref="ChainStreams.RegistryEvents"/>. Key: <see cref="ChainKeys.Default"/>.</summary>
[Alias("MetaNode.Chain.IChainWatcherGrain")]
[SiloOnly]
public interface IChainWatcherGrain : IGrainWithStringKey
{
    /// <summary>Makes sure the watcher runs (idempotent).</summary>
    [Alias("Ensure")]
    Task EnsureRunningAsync(CancellationToken cancellationToken = default);

    /// <summary>Polls once now and returns the position.</summary>
    [Alias("Poll")]
    Task<ChainWatcherStatus> PollAsync(CancellationToken cancellationToken = default);

    [Alias("GetStatus"), AlwaysInterleave]
    Task<ChainWatcherStatus> GetStatusAsync(CancellationToken cancellationToken = default);
}

public static class ChainKeys
{
    public const string Default = "default";
}

using MetaNode.Chain;
using MetaNode.Federation;
using MetaNode.Grains.Federation;
using MetaNode.Grains.Hosting;
using MetaNode.Grains.VPods;
using MetaNode.VPods;
using MetaNode.Workloads;
using Microsoft.Extensions.Logging;
using RoundResult = MetaNode.Chain.RoundResult;

namespace MetaNode.Grains.Chain;

/// <summary>The persisted choice of registry (after <c>chain deploy</c>) and its history.</summary>
[GenerateSerializer, Alias("MetaNode.Chain.ChainGrainState")]
public sealed class ChainGrainState
{
    /// <summary>The registry <c>chain deploy</c> made current, with the RPC endpoint's chain id it was deployed on.</summary>
    [Id(0)] public string? Registry { get; set; }
    [Id(1)] public long RegistryChainId { get; set; }
    [Id(2)] public List<string> Deployments { get; set; } = [];
    [Id(3)] public long RegistryDeployedAtBlock { get; set; }
}

/// <summary>
/// The cluster's view of the chain: which registry is current, its validator set (validator vPods that prove their keys), rounds;
/// re-submission of rounds the validators' workloads signed, through the operator's account grain (the only submitter for that key).
/// It never asks a vPod to sign content of its choosing.
/// </summary>
[GrainType("chain")]
public sealed partial class ChainGrain(
    [PersistentState("chain", MetaNodeNames.ChainStorage)] IPersistentState<ChainGrainState> state,
    ChainConnector connector,
    RegistryClient registry,
    ChainAccounts accounts,
    FederatedWorkloadClient workloads,
    ILogger<ChainGrain> logger) : Grain, IChainGrain
{
    private readonly IPersistentState<ChainGrainState> _state = state;
    private readonly RegistryClient _registry = registry;

    /// <summary>The registry whose code was found to be this version's ResultRegistry (checked once per activation).</summary>
    private string? _checkedRegistry;

    public async Task<ChainStatus> GetStatusAsync(CancellationToken cancellationToken = default)
    {
        if (connector.Endpoint is not { } endpoint)
        {
            return new ChainStatus { Enabled = false, Reason = connector.DisabledReason };
        }

        var status = new ChainStatus
        {
            Enabled = true,
            RpcUrl = RpcUrls.Redact(endpoint.RpcUrl),
            ChainId = endpoint.ChainId,
            Operator = accounts.OperatorAddress,
            Confirmations = connector.Options.Confirmations,
            DevChain = endpoint.DevChain,
        };
        try
        {
            var chainId = await connector.GetChainIdAsync(cancellationToken);
            var block = await connector.GetBlockNumberAsync(cancellationToken);
            status = status with { ChainId = chainId, LastBlock = block };
            var registry = await GetRegistryAsync(cancellationToken);
            if (registry is null)
            {
                return status with { Reason = "no ResultRegistry is deployed: run 'metanode-cli chain deploy'." };
            }

            var state = await _registry.GetStateAsync(registry, cancellationToken);
            return status with { Registry = registry, Threshold = state.Threshold, Validators = state.Validators, SetId = state.SetId };
        }
        catch (Exception exception) when (exception is ChainUnavailableException or Nethereum.JsonRpc.Client.RpcResponseException)
        {
            return status with { Reason = exception.Message };
        }
    }

    public async Task<string?> GetRegistryAsync(CancellationToken cancellationToken = default)
    {
        if (connector.Endpoint is not { } endpoint)
        {
            return null;
        }

        // A registry deployed with `chain deploy` wins over the configured (or dev chain's) one, on the same chain.
        var registry = _state.State.Registry is { } deployed && (_state.State.RegistryChainId == endpoint.ChainId || endpoint.ChainId == 0)
            ? deployed
            : endpoint.Registry;
        if (registry is not null && _checkedRegistry != registry)
        {
            // A registry of another version (another signed type) would refuse every round: say so before anything is signed or sent.
            var code = await connector.CallAsync("eth_getCode", w => w.Eth.GetCode.SendRequestAsync(registry), cancellationToken);
            var domain = new RegistryDomain(await connector.GetChainIdAsync(cancellationToken), registry.ToLowerInvariant());
            if (!string.IsNullOrEmpty(code) && code != "0x"
                && MetaNode.Proofs.RegistryCode.Instance.Mismatch(Convert.FromHexString(code.AsSpan(2)), domain) is { } mismatch)
            {
                throw new ChainUnavailableException($"the registry {registry} is not this version's ResultRegistry ({mismatch}): run 'metanode-cli chain deploy' to deploy one.");
            }

            _checkedRegistry = registry;
        }

        return registry;
    }

    public async Task<ChainStatus> DeployRegistryAsync(DeployRegistryCommand command, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(command);
        var endpoint = connector.RequireEndpoint();
        var admitted = await ProvenValidatorsAsync(command.Validators, cancellationToken);
        var validators = RegistryClient.SortValidators(admitted.Select(v => v.Address));
        var threshold = command.Threshold == 0 ? (validators.Count / 2) + 1 : command.Threshold;
        var submitter = Operator();
        var receipt = await GrainFactory.GetGrain<IChainAccountGrain>(submitter).DeployRegistryAsync(validators, threshold, cancellationToken);
        if (!receipt.Succeeded || receipt.ContractAddress is null)
        {
            throw new ChainRevertException("deploy ResultRegistry", $"transaction {receipt.TransactionHash} failed");
        }

        _state.State.Registry = receipt.ContractAddress;
        _state.State.RegistryChainId = await connector.GetChainIdAsync(cancellationToken);
        _state.State.RegistryDeployedAtBlock = receipt.BlockNumber;
        _state.State.Deployments.Add(receipt.ContractAddress);
        await _state.WriteStateAsync(cancellationToken);
        LogDeployed(logger, receipt.ContractAddress, validators.Count, threshold, RpcUrls.Redact(endpoint.RpcUrl));
        return await GetStatusAsync(cancellationToken);
    }

    public async Task<ValidatorSet> GetValidatorsAsync(CancellationToken cancellationToken = default)
    {
        var registry = await RequireRegistryAsync(cancellationToken);
        var state = await _registry.GetStateAsync(registry, cancellationToken);
        var vpods = (await ValidatorVPodsAsync(cancellationToken)).ToDictionary(v => v.Address, StringComparer.Ordinal);
        return new ValidatorSet
        {
            Registry = registry,
            Threshold = state.Threshold,
            SetId = state.SetId,
            Validators = state.Validators.Select(a => vpods.TryGetValue(a, out var v) ? new ValidatorInfo(a, v.Id, v.Name) : new ValidatorInfo(a, null, null)).ToArray(),
        };
    }

    public async Task<RoundRecord> GetRoundAsync(string jobId, long round, CancellationToken cancellationToken = default) =>
        await _registry.GetRoundAsync(await RequireRegistryAsync(cancellationToken), jobId, round, cancellationToken);

    public async Task<FinalizationResult> FinalizeRoundAsync(FinalizeRoundCommand command, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(command);
        var round = command.Round;
        RegistryTypedData.FinalizeStructHash(round); // validates every field before anything is looked up
        round = round with { ModelCid = RegistryModelCid.Normalize(round.ModelCid) };
        RegistryModelCid.ToBytes(round);
        var registry = await RequireRegistryAsync(cancellationToken);
        var submitter = Operator();

        // Already on chain: report it without sending anything.
        var existing = await _registry.GetRoundAsync(registry, round.JobId, round.Round, cancellationToken);
        if (existing.Finalized)
        {
            var commitment = HexValues.ToHex(RegistryTypedData.Commitment(round));
            return new FinalizationResult
            {
                Outcome = FinalizationOutcome.AlreadyFinalized,
                Record = existing with { Matches = string.Equals(existing.Commitment, commitment, StringComparison.OrdinalIgnoreCase) },
                TransactionHash = existing.TransactionHash,
                Submitter = submitter,
            };
        }

        // Only what validators' workloads signed themselves can be re-submitted: nothing here asks anyone to sign.
        var signed = await SignedRoundAsync(round, cancellationToken);
        if (signed is null || !SameSignedFields(signed.Round, round))
        {
            throw new UnsignedRoundException($"no validator signed this result: job '{round.JobId}' round {round.Round} has no validator signatures over result {round.ResultHash} (receipts root {round.ReceiptsRoot}, model ref {round.ModelRef}); nothing was sent.");
        }

        if (!SameRecord(signed.Round, round))
        {
            var recorded = RegistryModelCid.Normalize(signed.Round.ModelCid);
            throw new InvalidChainRequestException($"job '{round.JobId}' round {round.Round} names model CID {(recorded.Length == 0 ? "none" : recorded)}, not {(round.ModelCid.Length == 0 ? "none" : round.ModelCid)}: the registry records the round with the model's own CID{(recorded.Length == 0 ? " (give no --model-cid)" : $" (--model-cid {recorded})")}; nothing was sent.");
        }

        var state = await _registry.GetStateAsync(registry, cancellationToken);
        var digest = RegistryTypedData.FinalizeDigest(new RegistryDomain(await connector.GetChainIdAsync(cancellationToken), registry), round);
        var current = state.Validators.ToHashSet(StringComparer.OrdinalIgnoreCase);
        var named = command.SignerVPodIds.ToHashSet(StringComparer.Ordinal);
        var signatures = signed.Signatures
            .Where(s => named.Count == 0 || (s.VPodId is { } id && named.Contains(id)))
            .Where(s => current.Contains(s.Signer) && SignedBy(digest, s))
            .OrderBy(s => s.Signer, StringComparer.Ordinal)
            .ToArray();
        if (signatures.Length < state.Threshold)
        {
            throw new InvalidChainRequestException($"the registry needs {state.Threshold} validator signatures, but only {signatures.Length} signature(s) of its current set (set {state.SetId}) were made over this result; nothing was sent.");
        }

        if (command.ThresholdOnly)
        {
            signatures = signatures.Take(state.Threshold).ToArray();
        }

        return await GrainFactory.GetGrain<IChainAccountGrain>(submitter).FinalizeRoundInSetAsync(registry, round, signatures, state.Validators, cancellationToken);
    }

    public async Task<ValidatorSet> RotateValidatorsAsync(IReadOnlyList<string> validators, int threshold, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(validators);
        var registry = await RequireRegistryAsync(cancellationToken);
        var proposed = await ProvenValidatorsAsync(validators, cancellationToken);
        var next = RegistryClient.SortValidators(proposed.Select(v => v.Address));
        threshold = threshold == 0 ? (next.Count / 2) + 1 : threshold;
        if (threshold < 1 || threshold > next.Count)
        {
            throw new InvalidChainRequestException($"threshold {threshold} must be from 1 to the {next.Count} proposed validators.");
        }

        var state = await _registry.GetStateAsync(registry, cancellationToken);
        var chainId = await connector.GetChainIdAsync(cancellationToken);
        var digest = RegistryTypedData.RotationDigest(new RegistryDomain(chainId, registry), next, threshold, state.SetId);

        // Each proposed workload proves its key over this very rotation; each signing validator checks those proofs itself.
        var proofs = await Task.WhenAll(proposed.Select(v => workloads.ProveIdentityAsync(new Uri(v.Endpoint), v.Id, digest, chainId, cancellationToken)));
        var request = new RotationRequest(chainId, registry, [.. next], threshold, state.SetId, proofs);
        var current = state.Validators.ToHashSet(StringComparer.OrdinalIgnoreCase);
        var signers = (await AllValidatorVPodsAsync(cancellationToken)).Where(v => v.Identity == VPodIdentityState.Proven && v.Address is { } a && current.Contains(a) && v.Endpoint is not null).ToList();
        var answers = await Task.WhenAll(signers.Select(async v =>
        {
            try
            {
                var answer = await workloads.SignRotationAsync(new Uri(v.Endpoint!), request, cancellationToken);
                return new ValidatorSignature(v.Address!, answer.Signature, v.Id);
            }
            catch (WorkloadRequestException exception)
            {
                LogRotationRefused(logger, v.Id, exception.Message);
                return null;
            }
        }));
        var signatures = answers.OfType<ValidatorSignature>().Where(s => SignedBy(digest, s)).OrderBy(s => s.Signer, StringComparer.Ordinal).Take(state.Threshold).ToArray();
        if (signatures.Length < state.Threshold)
        {
            throw new InvalidChainRequestException($"the registry needs {state.Threshold} validator signatures for a rotation, but only {signatures.Length} validator vPod(s) of its current set signed it; see 'metanode-cli chain validators' and the vPods' logs.");
        }

        await GrainFactory.GetGrain<IChainAccountGrain>(Operator()).RotateValidatorsAsync(registry, next, threshold, signatures, cancellationToken);
        return await GetValidatorsAsync(cancellationToken);
    }

    /// <summary>
    /// The validator vPods to put in a set (the named ones, or every validator vPod), each freshly proving its admitted key; refused
    /// with every vPod that cannot (no protocol, a changed key, not running) named.
    /// </summary>
    private async Task<IReadOnlyList<(string Id, string Address, string Endpoint)>> ProvenValidatorsAsync(IReadOnlyList<string> vpodIds, CancellationToken cancellationToken)
    {
        var ids = vpodIds.Count > 0
            ? vpodIds.Distinct(StringComparer.Ordinal).ToArray()
            : (await GrainFactory.GetGrain<IVPodRegistryGrain>(VPodRegistryKeys.Default).ListAsync(cancellationToken))
                .Where(s => s.Type == VPodType.Validator && s.Phase != VPodPhase.Deleted).Select(s => s.Id).Order(StringComparer.Ordinal).ToArray();
        if (ids.Length == 0)
        {
            throw new InvalidChainRequestException("there are no validator vPods to form the validator set: create some with 'metanode-cli vpod create --type validator ...'.");
        }

        var proven = await VPodIdentityChecks.ProveAsync(GrainFactory, ids, cancellationToken);
        var refused = proven.Refusals
            .Concat(proven.Proven.Values.Where(s => s.Type != VPodType.Validator).Select(s => $"vPod '{s.Id}' is a {s.Type.ToString().ToLowerInvariant()} vPod, not a validator"))
            .ToArray();
        if (refused.Length > 0)
        {
            throw new InvalidChainRequestException($"only validator vPods whose workloads prove their admitted keys can be validators: {string.Join("; ", refused)}.");
        }

        return proven.Proven.Values.OrderBy(s => s.Id, StringComparer.Ordinal).Select(s => (s.Id, s.Address!, s.Endpoint!)).ToArray();
    }

    private async Task<SignedRound?> SignedRoundAsync(RoundResult round, CancellationToken cancellationToken)
    {
        if (round.Round is < 1 or > int.MaxValue)
        {
            return null;
        }

        try
        {
            return await GrainFactory.GetGrain<IFederatedJobGrain>(round.JobId).GetSignedRoundAsync((int)round.Round, cancellationToken);
        }
        catch (JobNotFoundException)
        {
            return null;
        }
    }

    /// <summary>The fields the validators signed.</summary>
    private static bool SameSignedFields(RoundResult a, RoundResult b) =>
        a.JobId == b.JobId && a.Round == b.Round
        && string.Equals(a.ResultHash, b.ResultHash, StringComparison.OrdinalIgnoreCase)
        && string.Equals(a.ReceiptsRoot, b.ReceiptsRoot, StringComparison.OrdinalIgnoreCase)
        && string.Equals(a.ModelRef, b.ModelRef, StringComparison.OrdinalIgnoreCase);

    /// <summary>The whole record the registry keeps: the signed fields and the model's CID (compared in canonical text).</summary>
    private static bool SameRecord(RoundResult a, RoundResult b) =>
        SameSignedFields(a, b)
        && string.Equals(RegistryModelCid.Normalize(a.ModelCid), RegistryModelCid.Normalize(b.ModelCid), StringComparison.Ordinal);

    private static bool SignedBy(byte[] digest, ValidatorSignature signature) =>
        EthereumSignatures.ParseSignature(signature.Signature) is { } bytes
        && string.Equals(EthereumSignatures.RecoverAddress(digest, bytes), signature.Signer, StringComparison.OrdinalIgnoreCase);

    private async Task<IReadOnlyList<VPodStatus>> AllValidatorVPodsAsync(CancellationToken cancellationToken)
    {
        var summaries = await GrainFactory.GetGrain<IVPodRegistryGrain>(VPodRegistryKeys.Default).ListAsync(cancellationToken);
        return await Task.WhenAll(summaries
            .Where(s => s.Type == VPodType.Validator && s.Phase != VPodPhase.Deleted)
            .Select(s => GrainFactory.GetGrain<IVPodGrain>(s.Id).GetStatusAsync(cancellationToken)));
    }

    /// <summary>Every validator vPod with an admitted address (not deleted).</summary>
    private async Task<IReadOnlyList<(string Id, string Name, string Address)>> ValidatorVPodsAsync(CancellationToken cancellationToken) =>
        (await AllValidatorVPodsAsync(cancellationToken)).Where(s => s.Address is not null).Select(s => (s.Id, s.Name, s.Address!)).ToArray();

    private async Task<string> RequireRegistryAsync(CancellationToken cancellationToken)
    {
        connector.RequireEndpoint();
        return await GetRegistryAsync(cancellationToken)
            ?? throw new ChainUnavailableException("no ResultRegistry is deployed: run 'metanode-cli chain deploy' or set MetaNode:Chain:RegistryAddress.");
    }

    private string Operator() => accounts.OperatorAddress
        ?? throw new ChainUnavailableException("this silo has no operator account to submit transactions: set MetaNode:Chain:AccountPrivateKey (a secret) or MetaNode:Chain:KeystoreDirectory and KeystorePassword.");
}

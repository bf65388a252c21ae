using MetaNode.Chain;
using MetaNode.Grains.Hosting;
using MetaNode.VPods;
using Microsoft.Extensions.Logging;

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
/// The cluster's view of the chain: which registry is current, its validator set, rounds; finalization by collecting
/// validator vPods' signatures and handing them to the operator's account grain (the only submitter for that key).
/// </summary>
[GrainType("chain")]
public sealed partial class ChainGrain : Grain, IChainGrain
{
    private readonly IPersistentState<ChainGrainState> _state;
    private readonly ChainConnector _connector;
    private readonly RegistryClient _registry;
    private readonly ChainAccounts _accounts;
    private readonly ILogger<ChainGrain> _logger;

    public ChainGrain(
        [PersistentState("chain", MetaNodeNames.ChainStorage)] IPersistentState<ChainGrainState> state,
        ChainConnector connector,
        RegistryClient registry,
        ChainAccounts accounts,
        ILogger<ChainGrain> logger)
    {
        _state = state;
        _connector = connector;
        _registry = registry;
        _accounts = accounts;
        _logger = logger;
    }

    public async Task<ChainStatus> GetStatusAsync(CancellationToken cancellationToken = default)
    {
        if (_connector.Endpoint is not { } endpoint)
        {
            return new ChainStatus { Enabled = false, Reason = _connector.DisabledReason };
        }

        var status = new ChainStatus
        {
            Enabled = true,
            RpcUrl = endpoint.RpcUrl,
            ChainId = endpoint.ChainId,
            Operator = _accounts.OperatorAddress,
            Confirmations = _connector.Options.Confirmations,
            DevChain = endpoint.DevChain,
        };
        try
        {
            var chainId = await _connector.GetChainIdAsync(cancellationToken);
            var block = await _connector.GetBlockNumberAsync(cancellationToken);
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

    public Task<string?> GetRegistryAsync(CancellationToken cancellationToken = default)
    {
        if (_connector.Endpoint is not { } endpoint)
        {
            return Task.FromResult<string?>(null);
        }

        // A registry deployed with `chain deploy` wins over the configured (or dev chain's) one, on the same chain.
        var registry = _state.State.Registry is { } deployed && (_state.State.RegistryChainId == endpoint.ChainId || endpoint.ChainId == 0)
            ? deployed
            : endpoint.Registry;
        return Task.FromResult(registry);
    }

    public async Task<ChainStatus> DeployRegistryAsync(DeployRegistryCommand command, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(command);
        var endpoint = _connector.RequireEndpoint();
        var validators = command.Validators.Count > 0
            ? RegistryClient.SortValidators(command.Validators)
            : RegistryClient.SortValidators((await ValidatorVPodsAsync(cancellationToken)).Select(v => v.Address));
        if (validators.Count == 0)
        {
            throw new InvalidChainRequestException("there are no validator vPods with a key to form the validator set: create some with 'metanode-cli vpod create --type validator ...', or pass --validator ADDRESS.");
        }

        var threshold = command.Threshold == 0 ? (validators.Count / 2) + 1 : command.Threshold;
        var submitter = Operator();
        var receipt = await GrainFactory.GetGrain<IChainAccountGrain>(submitter).DeployRegistryAsync(validators, threshold, cancellationToken);
        if (!receipt.Succeeded || receipt.ContractAddress is null)
        {
            throw new ChainRevertException("deploy ResultRegistry", $"transaction {receipt.TransactionHash} failed");
        }

        _state.State.Registry = receipt.ContractAddress;
        _state.State.RegistryChainId = await _connector.GetChainIdAsync(cancellationToken);
        _state.State.RegistryDeployedAtBlock = receipt.BlockNumber;
        _state.State.Deployments.Add(receipt.ContractAddress);
        await _state.WriteStateAsync(cancellationToken);
        LogDeployed(_logger, receipt.ContractAddress, validators.Count, threshold, endpoint.RpcUrl);
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
        RegistryTypedData.FinalizeStructHash(round); // validates every field before anything is signed
        var registry = await RequireRegistryAsync(cancellationToken);
        var submitter = Operator();

        // Already on chain: report it without asking anyone to sign.
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

        var state = await _registry.GetStateAsync(registry, cancellationToken);
        var signatures = await CollectAsync(state, command.SignerVPodIds, (vpod, ct) => vpod.SignRoundResultAsync(round, ct), cancellationToken);
        if (command.ThresholdOnly)
        {
            signatures = signatures.OrderBy(s => s.Signer, StringComparer.Ordinal).Take(state.Threshold).ToArray();
        }

        return await GrainFactory.GetGrain<IChainAccountGrain>(submitter).FinalizeRoundAsync(registry, round, signatures, cancellationToken);
    }

    public async Task<ValidatorSet> RotateValidatorsAsync(IReadOnlyList<string> validators, int threshold, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(validators);
        var registry = await RequireRegistryAsync(cancellationToken);
        var next = validators.Count > 0
            ? RegistryClient.SortValidators(validators)
            : RegistryClient.SortValidators((await ValidatorVPodsAsync(cancellationToken)).Select(v => v.Address));
        threshold = threshold == 0 ? (next.Count / 2) + 1 : threshold;
        var state = await _registry.GetStateAsync(registry, cancellationToken);
        var signatures = await CollectAsync(state, [], (vpod, ct) => vpod.SignValidatorRotationAsync(next, threshold, state.SetId, ct), cancellationToken);
        signatures = signatures.OrderBy(s => s.Signer, StringComparer.Ordinal).Take(state.Threshold).ToArray();
        await GrainFactory.GetGrain<IChainAccountGrain>(Operator()).RotateValidatorsAsync(registry, next, threshold, signatures, cancellationToken);
        return await GetValidatorsAsync(cancellationToken);
    }

    /// <summary>Signatures from the validator vPods whose addresses are in the current set (the named ones, or all); at least k.</summary>
    private async Task<IReadOnlyList<ValidatorSignature>> CollectAsync(
        RegistryState state,
        IReadOnlyList<string> vpodIds,
        Func<IVPodGrain, CancellationToken, Task<ValidatorSignature>> sign,
        CancellationToken cancellationToken)
    {
        var current = state.Validators.ToHashSet(StringComparer.Ordinal);
        var candidates = vpodIds.Count > 0
            ? vpodIds.Distinct(StringComparer.Ordinal).ToArray()
            : (await ValidatorVPodsAsync(cancellationToken)).Where(v => current.Contains(v.Address)).Select(v => v.Id).ToArray();
        var signatures = await Task.WhenAll(candidates.Select(id => sign(GrainFactory.GetGrain<IVPodGrain>(id), cancellationToken)));
        var outsiders = signatures.Where(s => !current.Contains(s.Signer)).Select(s => s.VPodId).ToArray();
        if (outsiders.Length > 0)
        {
            throw new InvalidChainRequestException($"vPod(s) {string.Join(", ", outsiders)} are not in the registry's validator set (set {state.SetId}); see 'metanode-cli chain validators'.");
        }

        if (signatures.Length < state.Threshold)
        {
            throw new InvalidChainRequestException($"the registry needs {state.Threshold} validator signatures, but only {signatures.Length} validator vPod(s) of its current set could sign; see 'metanode-cli chain validators'.");
        }

        return signatures;
    }

    /// <summary>Every validator vPod with a key (not deleted).</summary>
    private async Task<IReadOnlyList<(string Id, string Name, string Address)>> ValidatorVPodsAsync(CancellationToken cancellationToken)
    {
        var summaries = await GrainFactory.GetGrain<IVPodRegistryGrain>(VPodRegistryKeys.Default).ListAsync(cancellationToken);
        var statuses = await Task.WhenAll(summaries
            .Where(s => s.Type == VPodType.Validator && s.Phase != VPodPhase.Deleted)
            .Select(s => GrainFactory.GetGrain<IVPodGrain>(s.Id).GetStatusAsync(cancellationToken)));
        return statuses.Where(s => s.Address is not null).Select(s => (s.Id, s.Name, s.Address!)).ToArray();
    }

    private async Task<string> RequireRegistryAsync(CancellationToken cancellationToken)
    {
        _connector.RequireEndpoint();
        return await GetRegistryAsync(cancellationToken)
            ?? throw new ChainUnavailableException("no ResultRegistry is deployed: run 'metanode-cli chain deploy' or set MetaNode:Chain:RegistryAddress.");
    }

    private string Operator() => _accounts.OperatorAddress
        ?? throw new ChainUnavailableException("this silo has no operator account to submit transactions: set MetaNode:Chain:AccountPrivateKey (a secret) or MetaNode:Chain:KeystoreDirectory and KeystorePassword.");

    [LoggerMessage(Level = LogLevel.Information, Message = "ResultRegistry deployed at {Registry} with {Validators} validators, threshold {Threshold}, on {RpcUrl}; it is now the registry of this cluster")]
    private static partial void LogDeployed(ILogger logger, string registry, int validators, int threshold, string rpcUrl);
}

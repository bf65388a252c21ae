using System.Security.Cryptography;
using MetaNode.Chain;
using MetaNode.Federation;
using MetaNode.Storage;
using MetaNode.Workload.Keys;
using MetaNode.Workloads;

namespace MetaNode.Workload.Federation;

/// <summary>
/// <c>POST /v2/aggregate</c>, a validator's round: verify every copy of every update and aggregate (<see cref="RoundAggregator"/>,
/// shared with the silo), evaluate the aggregate on the local <c>test</c> split, and sign the registry's <c>FinalizeRound</c> digest of
/// what this validator computed — never a hash the caller chose. The validator signs one result per (chain, registry, job, round):
/// the digest is recorded durably (<see cref="SignedRoundLog"/>) before the signature is returned, and another digest for a round
/// already signed is refused.
/// </summary>
/// <summary>The server's step a round takes after aggregation: the optimizer, the model the round started from and the state before it.</summary>
internal sealed record ServerStepFacts(FederatedModel Global, ServerOptimizer Optimizer, ServerOptimizerState? State);

public sealed partial class RoundValidation(LocalLearning learning, VPodKey key, SignedRoundLog signedRounds, string vpodId, ILogger logger)
{
    public AggregateResponse Aggregate(AggregateRequest? request)
    {
        var facts = Facts(request);
        var server = ServerStep(request!.ServerOptimizer, request.OptimizerState, facts.Global);
        var updates = Updates(request.Updates);
        var aggregate = RoundAggregator.Aggregate(facts, updates);
        if (aggregate.Model is not { } model)
        {
            var reasons = string.Join("; ", aggregate.Rejected.Select(r => $"{r.VPodId}: {r.Reason}"));
            throw new WorkloadConflictException(
                $"no update of job '{facts.Job}' round {facts.Round} could be aggregated ({aggregate.Rejected.Count} rejected: {(reasons.Length == 0 ? "no updates were sent" : reasons)})");
        }

        return SignAggregate(facts.Job, facts.Round, request.ChainId, request.Registry, aggregate, model, request.Standardization, server);
    }

    /// <summary>
    /// The request's server optimizer and the state it starts from, checked (400 naming the field; see "The server optimizer"):
    /// without <c>serverOptimizer</c> the aggregate is the round's model.
    /// </summary>
    internal static ServerStepFacts ServerStep(ServerOptimizerDto? optimizer, OptimizerStateDto? state, FederatedModel global)
    {
        if (optimizer is null)
        {
            return state is null
                ? new ServerStepFacts(global, MetaNode.Federation.ServerOptimizer.Average, null)
                : throw new InvalidWorkloadRequestException("optimizerState is given without a serverOptimizer.");
        }

        var kind = optimizer.Kind switch
        {
            MetaNode.Federation.ServerOptimizer.AverageName => ServerOptimizerKind.Average,
            MetaNode.Federation.ServerOptimizer.MomentumName => ServerOptimizerKind.Momentum,
            MetaNode.Federation.ServerOptimizer.AdamName => ServerOptimizerKind.Adam,
            _ => throw new InvalidWorkloadRequestException($"serverOptimizer.kind '{optimizer.Kind}' is unknown: use avg, avgm or adam."),
        };
        Absent(kind == ServerOptimizerKind.Average, optimizer.LearningRate, "learningRate");
        Absent(kind == ServerOptimizerKind.Average, optimizer.Momentum, "momentum");
        Absent(kind != ServerOptimizerKind.Adam, optimizer.Beta2, "beta2");
        Absent(kind != ServerOptimizerKind.Adam, optimizer.Tau, "tau");
        if (kind == ServerOptimizerKind.Average)
        {
            return state is null
                ? new ServerStepFacts(global, MetaNode.Federation.ServerOptimizer.Average, null)
                : throw new InvalidWorkloadRequestException("optimizerState must be absent for serverOptimizer 'avg': it has no state.");
        }

        var parsed = new ServerOptimizer(
            kind,
            Required(optimizer.LearningRate, "learningRate"),
            Required(optimizer.Momentum, "momentum"),
            kind == ServerOptimizerKind.Adam ? Required(optimizer.Beta2, "beta2") : 0,
            kind == ServerOptimizerKind.Adam ? Required(optimizer.Tau, "tau") : 0);
        if (parsed.Problems() is { Count: > 0 } problems)
        {
            throw new InvalidWorkloadRequestException("serverOptimizer: " + string.Join(" ", problems));
        }

        ServerOptimizerState? start = null;
        if (state is not null)
        {
            start = new ServerOptimizerState(state.Momentum ?? throw new InvalidWorkloadRequestException("optimizerState.momentum is missing."), state.SecondMoment);
            if (ServerOptimization.StateProblem(parsed, global.Parameters.Length, start) is { } problem)
            {
                throw new InvalidWorkloadRequestException("optimizerState: " + problem);
            }
        }

        return new ServerStepFacts(global, parsed, start);

        static void Absent(bool mustBeAbsent, double? value, string field)
        {
            if (mustBeAbsent && value is not null)
            {
                throw new InvalidWorkloadRequestException($"serverOptimizer.{field} does not apply to this kind of server optimizer.");
            }
        }

        static double Required(double? value, string field) =>
            value ?? throw new InvalidWorkloadRequestException($"serverOptimizer.{field} is missing.");
    }

    /// <summary>
    /// Evaluates the aggregate on the local <c>test</c> split, passes the equivocation guard and signs the registry's
    /// <c>FinalizeRound</c> digest of it: the end of a federated-average round and of a secure one alike.
    /// </summary>
    internal AggregateResponse SignAggregate(string job, int round, long chainId, string registryAddress, RoundAggregate aggregate, FederatedModel model, StandardizationDto? standardization, ServerStepFacts server)
    {
        var facts = (Job: job, Round: round);
        ServerStepResult step;
        try
        {
            step = ServerOptimization.Step(server.Optimizer, server.Global, model, server.State);
        }
        catch (ServerStepDivergedException ex)
        {
            throw new WorkloadConflictException($"job '{job}' round {round}: {ex.Message}");
        }

        model = step.Model;
        aggregate = aggregate with { Model = model, ModelHash = ModelEncoding.HashHex(model) };
        var modelDto = ModelDto.From(model);
        var evaluation = learning.Data.HasSplit(WorkloadProtocol.TestSplit)
            ? learning.Evaluate(WorkloadProtocol.TestSplit, modelDto, standardization)
            : null;

        var bytes = ModelEncoding.Encode(model);
        var modelRef = FederationHashing.ToHex(SHA256.HashData(bytes));
        var modelCid = UnixFsFile.ComputeCid(bytes).ToString();
        var registry = registryAddress.ToLowerInvariant();
        var digest = RegistryTypedData.FinalizeDigest(new RegistryDomain(chainId, registry), new MetaNode.Chain.RoundResult
        {
            JobId = facts.Job,
            Round = facts.Round,
            ResultHash = aggregate.ModelHash,
            ReceiptsRoot = aggregate.ReceiptsRoot,
            ModelRef = modelRef,
            ModelCid = modelCid,
        });
        var digestHex = FederationHashing.ToHex(digest);
        var record = new SignedRoundRecord(chainId, registry, facts.Job, facts.Round, digestHex);
        if (signedRounds.TryRecord(record) is { } earlier)
        {
            LogRefusedEquivocation(logger, vpodId, facts.Job, facts.Round, registry, earlier.Digest, digestHex);
            throw new WorkloadConflictException(
                $"this validator already signed another result for job {facts.Job} round {facts.Round} on registry {registry} (digest {earlier.Digest}): it signs one result per round");
        }

        var signature = key.Sign(digest);
        string? stateHash = null;
        string? stateSignature = null;
        if (step.State is { } state)
        {
            stateHash = ServerOptimization.HashHex(server.Optimizer, state);
            stateSignature = key.Sign(RegistryTypedData.ServerStateDigest(new RegistryDomain(chainId, registry), facts.Job, facts.Round, aggregate.ModelHash, stateHash));
        }

        LogSignedRound(logger, vpodId, facts.Job, facts.Round, registry, chainId, aggregate.ModelHash, aggregate.Participants.Count, aggregate.Rejected.Count);
        return new AggregateResponse(
            facts.Job,
            facts.Round,
            vpodId,
            key.Address,
            signature,
            aggregate.ModelHash,
            aggregate.ReceiptsRoot,
            modelRef,
            [.. aggregate.Participants],
            aggregate.TotalSamples,
            [.. aggregate.Rejected.Select(r => new RejectedDto(r.VPodId, r.Reason))],
            modelDto,
            evaluation,
            modelCid,
            OptimizerStateDto.From(step.State),
            stateHash,
            stateSignature);
    }

    /// <summary>The round's facts as the job fixed them; 400 naming the field when the request cannot be a round.</summary>
    internal static RoundFacts Facts(AggregateRequest? request)
    {
        if (request is null)
        {
            throw new InvalidWorkloadRequestException("The body must be a JSON object with job, round, chainId, registry, aggregation, global, participants and updates.");
        }

        try
        {
            HexValues.JobIdToBytes32(request.Job);
        }
        catch (InvalidChainRequestException ex)
        {
            throw new InvalidWorkloadRequestException(ex.Message);
        }

        if (request.Round < 0)
        {
            throw new InvalidWorkloadRequestException($"round '{request.Round}' must not be negative.");
        }

        IdentityProof.CheckChainId(request.ChainId);
        CheckAddress(request.Registry, "registry");
        AggregationRule rule;
        try
        {
            rule = AggregationRule.Parse(request.Aggregation);
        }
        catch (FormatException ex)
        {
            throw new InvalidWorkloadRequestException("aggregation: " + ex.Message);
        }

        FederatedModel global;
        try
        {
            global = request.Global?.ToModel() ?? throw new InvalidWorkloadRequestException("global (the round's starting model) is missing.");
        }
        catch (Exception ex) when (ex is ArgumentException or OverflowException)
        {
            throw new InvalidWorkloadRequestException("global is not a model: " + ex.Message);
        }

        if (!global.Parameters.All(double.IsFinite))
        {
            throw new InvalidWorkloadRequestException("global holds a value that is not finite.");
        }

        if (request.Participants is not { Length: > 0 } participants)
        {
            throw new InvalidWorkloadRequestException("participants is empty: a round has at least one participant.");
        }

        if (request.Updates is null)
        {
            throw new InvalidWorkloadRequestException("updates is missing (send [] when none arrived).");
        }

        var ids = new HashSet<string>(StringComparer.Ordinal);
        var facts = new List<RoundParticipant>(participants.Length);
        long total = 0;
        for (var i = 0; i < participants.Length; i++)
        {
            var participant = participants[i] ?? throw new InvalidWorkloadRequestException($"participants[{i}] is null.");
            if (string.IsNullOrEmpty(participant.VPodId) || !ids.Add(participant.VPodId))
            {
                throw new InvalidWorkloadRequestException($"participants[{i}].vpodId '{participant.VPodId}' is empty or listed twice.");
            }

            CheckAddress(participant.Address, $"participants[{i}].address");
            if (participant.AssignedSamples < 1)
            {
                throw new InvalidWorkloadRequestException($"participants[{i}].assignedSamples '{participant.AssignedSamples}' must be at least 1.");
            }

            try
            {
                total = checked(total + participant.AssignedSamples);
            }
            catch (OverflowException)
            {
                throw new InvalidWorkloadRequestException("participants' assignedSamples add up to more than 2^63 - 1.");
            }

            facts.Add(new RoundParticipant(participant.VPodId, participant.Address.ToLowerInvariant(), participant.AssignedSamples));
        }

        return new RoundFacts(request.Job, request.Round, request.ChainId, global, rule, facts);
    }

    /// <summary>
    /// Every copy as the aggregator checks it. A copy whose model cannot even be read keeps its place with no model, so the aggregator
    /// rejects that copy alone (an unreadable forged copy never hides the vPod's valid one, nor fails the request).
    /// </summary>
    private static List<ModelUpdate> Updates(UpdateDto[] updates)
    {
        var result = new List<ModelUpdate>(updates.Length);
        foreach (var update in updates)
        {
            if (update?.Receipt is null)
            {
                continue;
            }

            FederatedModel? model;
            try
            {
                model = update.Model?.ToModel();
            }
            catch (Exception ex) when (ex is ArgumentException or OverflowException)
            {
                // Unreadable (the arrays disagree with the shape, or the shape overflows): the aggregator rejects this copy.
                model = null;
            }

            result.Add(new ModelUpdate(update.Receipt.ToReceipt(), model!));
        }

        return result;
    }

    internal static string CheckAddress(string? value, string field)
    {
        if (!HexValues.IsAddress(value))
        {
            throw new InvalidWorkloadRequestException($"{field} '{value}' must be 0x and 40 hex digits (an address).");
        }

        return value!.ToLowerInvariant();
    }
}

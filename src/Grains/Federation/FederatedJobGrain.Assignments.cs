using MetaNode.Federation;

namespace MetaNode.Grains.Federation;

/// <summary>
/// What the job's workers fetch from it, so that no other caller can hand them other facts: a compute vPod's training assignment,
/// a validator's standing assignment, and the closed round a validator aggregates.
/// </summary>
public sealed partial class FederatedJobGrain
{
    public Task<TrainingAssignment?> GetTrainingAssignmentAsync(string vpodId, int round, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(vpodId);
        TrainingAssignment? assignment = State.Spec is not null && round == State.Round && State.GlobalModel is not null
            && State.Phase is FederatedJobPhase.Dispatching or FederatedJobPhase.Training
            && State.AssignedSamples.TryGetValue(vpodId, out var assigned)
            ? new TrainingAssignment
            {
                JobId = JobId,
                Round = State.Round,
                Global = ModelEncoding.Decode(State.GlobalModel),
                Standardization = State.Standardization,
                LocalEpochs = Spec.LocalEpochs,
                BatchSize = Spec.BatchSize,
                LearningRate = Spec.LearningRate,
                Seed = Spec.Seed,
                ChainId = State.ChainId,
                AssignedSamples = assigned,
                ProximalMu = Spec.ProximalMu,
            }
            : null;
        return Task.FromResult(assignment);
    }

    public Task<ValidatorAssignment?> GetValidatorAssignmentAsync(string validatorVPodId, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(validatorVPodId);
        ValidatorAssignment? assignment = State.Spec is not null && State.Standardization is not null && State.ValidatorVPods.Contains(validatorVPodId, StringComparer.Ordinal)
            && FederatedJobStateMachine.IsActive(State.Phase)
            ? new ValidatorAssignment
            {
                JobId = JobId,
                ValidatorVPodId = validatorVPodId,
                ComputeAddresses = State.ComputeVPods.ToDictionary(c => c, c => State.Addresses[c], StringComparer.Ordinal),
                Standardization = State.Standardization,
                Aggregation = Spec.Robust,
                AssignedSamples = State.AssignedSamples,
                ChainId = State.ChainId,
            }
            : null;
        return Task.FromResult(assignment);
    }

    public async Task<RoundClosing?> GetRoundClosingAsync(int round, CancellationToken cancellationToken = default)
    {
        if (State.Spec is null || round != State.Round || State.Phase is not (FederatedJobPhase.Aggregating or FederatedJobPhase.Finalizing) || State.GlobalModel is null)
        {
            return null;
        }

        return new RoundClosing
        {
            JobId = JobId,
            Round = State.Round,
            Participants = State.Closed,
            UpdateHashes = State.Closed.Where(State.Updates.ContainsKey).ToDictionary(id => id, id => State.Updates[id].Update.Receipt.UpdateHash, StringComparer.Ordinal),
            Global = ModelEncoding.Decode(State.GlobalModel),
            MinParticipants = Spec.MinParticipants,
            Registry = _registry ?? await RegistryAsync(cancellationToken),
            ServerOptimizer = Spec.ServerOptimizer,
            OptimizerState = State.OptimizerState,
        };
    }
}

using MetaNode.Federation;

namespace MetaNode.Grains.Federation;

/// <summary>
/// Where faults can be injected into a federated round (tests and chaos drills register their own; the silo uses
/// <see cref="NoFederatedFaults"/>): a compute vPod's workload before it trains, its trained model, how often its update is published, a validator's result hash.
/// </summary>
public interface IFederatedFaults
{
    Task BeforeTrainingAsync(string vpodId, int round) => Task.CompletedTask;

    FederatedModel TrainedModel(string vpodId, int round, FederatedModel model) => model;

    int StreamCopies(string vpodId, int round) => 1;

    string SignedResultHash(string validatorVPodId, int round, string resultHash) => resultHash;
}

/// <summary>No faults: every vPod behaves.</summary>
public sealed class NoFederatedFaults : IFederatedFaults;

using MetaNode.Federation;
using MetaNode.Workloads;

namespace MetaNode.Grains.Federation;

/// <summary>
/// Where faults can be injected into a federated round (tests and chaos drills register their own; the silo uses
/// <see cref="NoFederatedFaults"/>). Every hook acts on what the *silo* does — before training, on the training request, on what is
/// published, on the facts handed to a validator — because the keys and verdicts live in the workloads, out of the silo's reach.
/// </summary>
public interface IFederatedFaults
{
    Task BeforeTrainingAsync(string vpodId, int round) => Task.CompletedTask;

    /// <summary>The hyper-parameters sent to a compute workload (e.g. a huge learning rate makes an honest-but-useless outlier).</summary>
    TrainingHyperParameters Training(string vpodId, int round, TrainingHyperParameters hyperParameters) => hyperParameters;

    /// <summary>The copies of a compute vPod's update that are published on the stream and handed to the job, in order.</summary>
    IReadOnlyList<ModelUpdate> Published(string vpodId, int round, ModelUpdate update) => [update];

    /// <summary>Whether a published copy also goes on the stream (false: only the job gets it, as when the stream is slow to deliver it).</summary>
    bool Streamed(string vpodId, int round, ModelUpdate copy) => true;

    /// <summary>What a validator's workload is asked to aggregate (a silo that feeds one validator other facts).</summary>
    AggregateRequest ValidatorRequest(string validatorVPodId, int round, AggregateRequest request) => request;

    /// <summary>What a validator's grain passes on of its workload's answer (a silo that alters a signed answer on its way to the job).</summary>
    AggregateResponse ValidatorAnswer(string validatorVPodId, int round, AggregateResponse answer) => answer;

    /// <summary>Secure aggregation: after the round's masked updates are in, before the survivors confirm them (compute vPods may die here).</summary>
    Task BeforeUnmaskingAsync(string jobId, int round) => Task.CompletedTask;
}

/// <summary>No faults: every vPod behaves.</summary>
public sealed class NoFederatedFaults : IFederatedFaults;

using System.Diagnostics;
using MetaNode.Federation;
using MetaNode.Grains.Hosting;
using MetaNode.VPods;
using Microsoft.Extensions.Logging;

namespace MetaNode.Grains.Federation;

/// <summary>
/// A compute vPod's federated behaviour: asks its workload to train on the local partition — the workload signs its own receipt
/// over (job, round, vPod, sample count, update hash) with the key only it holds — and publishes update and receipt on the job's
/// stream (the fast path to validators) and hands them to the job, which persists them. Stateless: the job re-sends work after a loss.
/// </summary>
[GrainType("federated-compute")]
public sealed partial class ComputeWorkerGrain(
    FederatedWorkloadClient workloads,
    IFederatedFaults faults,
    TimeProvider time,
    ILogger<ComputeWorkerGrain> logger) : Grain, IComputeWorkerGrain
{
    private string VPodId => this.GetPrimaryKeyString();

    public async Task TrainAsync(string jobId, int round)
    {
        ArgumentException.ThrowIfNullOrEmpty(jobId);
        var job = GrainFactory.GetGrain<IFederatedJobGrain>(jobId);
        var assignment = await job.GetTrainingAssignmentAsync(VPodId, round);
        if (assignment is null)
        {
            LogNoAssignment(logger, VPodId, jobId, round);
            return;
        }

        try
        {
            var status = await GrainFactory.GetGrain<IVPodGrain>(VPodId).GetStatusAsync();
            if (status.Endpoint is not { } endpoint || status.Phase != VPodPhase.Running)
            {
                LogNotRunning(logger, VPodId, assignment.JobId, assignment.Round, status.Phase);
                return;
            }

            await faults.BeforeTrainingAsync(VPodId, assignment.Round);
            var hyper = faults.Training(
                VPodId,
                assignment.Round,
                new TrainingHyperParameters(assignment.LocalEpochs, assignment.BatchSize, assignment.LearningRate, FederatedSeeds.Training(assignment.Seed, assignment.Round, VPodId), assignment.ProximalMu));
            var watch = Stopwatch.StartNew();
            using var span = MetaNodeTracing.Start("metanode.vpod.train", ActivityKind.Client);
            span?.SetTag("metanode.vpod", VPodId);
            span?.SetTag("metanode.job", assignment.JobId);
            span?.SetTag("metanode.round", assignment.Round);
            var outcome = await workloads.TrainAsync(
                new Uri(endpoint),
                assignment.JobId,
                assignment.Round,
                assignment.ChainId,
                assignment.AssignedSamples,
                assignment.Global,
                assignment.Standardization,
                hyper);
            var trainingMs = watch.Elapsed.TotalMilliseconds;
            var update = new ModelUpdate(outcome.Receipt, outcome.Model, outcome.Metrics);
            var stream = this.GetStreamProvider(MetaNodeNames.StreamProvider).GetStream<FederatedUpdateEvent>(StreamId.Create(FederationStreams.Updates, assignment.JobId));
            foreach (var copy in faults.Published(VPodId, assignment.Round, update))
            {
                var published = new FederatedUpdateEvent { Update = copy, PublishedAt = time.GetUtcNow(), TrainingMs = trainingMs };
                if (FederatedModel.UpdateProblem(assignment.Global.Classes, assignment.Global.Features, copy.Model) is { } problem)
                {
                    // Never on the stream: only the job hears of it, and it records the vPod's update as refused for this reason.
                    LogWrongShape(logger, VPodId, assignment.JobId, assignment.Round, problem);
                    await job.SubmitUpdateAsync(published);
                    continue;
                }

                // The stream (to the validators) and the job get the update at the same time.
                await Task.WhenAll(faults.Streamed(VPodId, assignment.Round, copy) ? stream.OnNextAsync(published) : Task.CompletedTask, job.SubmitUpdateAsync(published));
            }

            LogTrained(logger, VPodId, assignment.JobId, assignment.Round, outcome.SampleCount, trainingMs);
        }
        catch (Exception exception) when (exception is WorkloadRequestException or VPodNotFoundException or InvalidVPodOperationException or HttpRequestException or TimeoutException)
        {
            // The job's deadline decides whether the round can do without this vPod.
            LogTrainingFailed(logger, exception, VPodId, assignment.JobId, assignment.Round);
        }
    }
}

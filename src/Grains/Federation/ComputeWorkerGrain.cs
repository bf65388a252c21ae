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

    [LoggerMessage(Level = LogLevel.Information, Message = "Compute vPod {VPodId} trained job {JobId} round {Round} on {Samples} samples in {Milliseconds:F0} ms and published the update its workload signed")]
    private static partial void LogTrained(ILogger logger, string vpodId, string jobId, int round, long samples, double milliseconds);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Compute vPod {VPodId} job {JobId} round {Round}: its workload's update is refused and not published: {Problem}")]
    private static partial void LogWrongShape(ILogger logger, string vpodId, string jobId, int round, string problem);

    [LoggerMessage(Level = LogLevel.Information, Message = "Compute vPod {VPodId} has nothing to train for job {JobId} round {Round}: the job is not training that round with it")]
    private static partial void LogNoAssignment(ILogger logger, string vpodId, string jobId, int round);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Compute vPod {VPodId} is {Phase}, not running: it skips job {JobId} round {Round}; the round closes at its deadline without it")]
    private static partial void LogNotRunning(ILogger logger, string vpodId, string jobId, int round, VPodPhase phase);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Compute vPod {VPodId} could not train job {JobId} round {Round}; the round closes at its deadline without it. Check the vPod's logs ('metanode-cli vpod logs')")]
    private static partial void LogTrainingFailed(ILogger logger, Exception exception, string vpodId, string jobId, int round);
}

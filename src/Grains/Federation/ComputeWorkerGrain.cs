using System.Diagnostics;
using MetaNode.Federation;
using MetaNode.Grains.Hosting;
using MetaNode.VPods;
using Microsoft.Extensions.Logging;
using Orleans.Streams;

namespace MetaNode.Grains.Federation;

/// <summary>
/// A compute vPod's federated behaviour: asks its workload to train on the local partition, signs a receipt over
/// (job, round, vPod, sample count, update hash) with the vPod's key, publishes update and receipt on the job's stream
/// (the fast path to validators) and hands it to the job, which persists it. Stateless: the job re-sends work after a loss.
/// </summary>
[GrainType("federated-compute")]
public sealed partial class ComputeWorkerGrain(
    FederatedWorkloadClient workloads,
    IFederatedFaults faults,
    TimeProvider time,
    ILogger<ComputeWorkerGrain> logger) : Grain, IComputeWorkerGrain
{
    private string VPodId => this.GetPrimaryKeyString();

    public async Task TrainAsync(TrainingAssignment assignment)
    {
        ArgumentNullException.ThrowIfNull(assignment);
        try
        {
            var vpod = GrainFactory.GetGrain<IVPodGrain>(VPodId);
            var status = await vpod.GetStatusAsync();
            if (status.Endpoint is not { } endpoint || status.Phase != VPodPhase.Running)
            {
                LogNotRunning(logger, VPodId, assignment.JobId, assignment.Round, status.Phase);
                return;
            }

            await faults.BeforeTrainingAsync(VPodId, assignment.Round);
            var watch = Stopwatch.StartNew();
            var outcome = await workloads.TrainAsync(
                new Uri(endpoint),
                assignment.JobId,
                assignment.Round,
                assignment.Global,
                assignment.Standardization,
                new TrainingHyperParameters(assignment.LocalEpochs, assignment.BatchSize, assignment.LearningRate, FederatedSeeds.Training(assignment.Seed, assignment.Round, VPodId)));
            var trainingMs = watch.Elapsed.TotalMilliseconds;
            var model = faults.TrainedModel(VPodId, assignment.Round, outcome.Model);
            var receipt = new TrainingReceipt(assignment.JobId, assignment.Round, VPodId, outcome.SampleCount, ModelEncoding.HashHex(model));
            var signature = await vpod.SignMessageAsync(ReceiptHashing.Hash(receipt));
            var update = new FederatedUpdateEvent
            {
                Update = new ModelUpdate(receipt with { Signature = signature.Signature }, model, outcome.Metrics),
                PublishedAt = time.GetUtcNow(),
                TrainingMs = trainingMs,
            };

            // The stream (to the validators) and the job get the update at the same time.
            await Task.WhenAll(PublishAsync(assignment.JobId, update), GrainFactory.GetGrain<IFederatedJobGrain>(assignment.JobId).SubmitUpdateAsync(update));
            LogTrained(logger, VPodId, assignment.JobId, assignment.Round, outcome.SampleCount, trainingMs);
        }
        catch (Exception exception) when (exception is WorkloadRequestException or VPodNotFoundException or InvalidVPodOperationException or HttpRequestException or TimeoutException)
        {
            // The job's deadline decides whether the round can do without this vPod.
            LogTrainingFailed(logger, exception, VPodId, assignment.JobId, assignment.Round);
        }
    }

    private async Task PublishAsync(string jobId, FederatedUpdateEvent update)
    {
        var stream = this.GetStreamProvider(MetaNodeNames.StreamProvider).GetStream<FederatedUpdateEvent>(StreamId.Create(FederationStreams.Updates, jobId));
        for (var copy = 0; copy < Math.Max(1, faults.StreamCopies(VPodId, update.Update.Receipt.Round)); copy++)
        {
            await stream.OnNextAsync(update);
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Compute vPod {VPodId} trained job {JobId} round {Round} on {Samples} samples in {Milliseconds:F0} ms and published its signed update")]
    private static partial void LogTrained(ILogger logger, string vpodId, string jobId, int round, long samples, double milliseconds);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Compute vPod {VPodId} is {Phase}, not running: it skips job {JobId} round {Round}; the round closes at its deadline without it")]
    private static partial void LogNotRunning(ILogger logger, string vpodId, string jobId, int round, VPodPhase phase);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Compute vPod {VPodId} could not train job {JobId} round {Round}; the round closes at its deadline without it. Check the vPod's logs ('metanode-cli vpod logs')")]
    private static partial void LogTrainingFailed(ILogger logger, Exception exception, string vpodId, string jobId, int round);
}

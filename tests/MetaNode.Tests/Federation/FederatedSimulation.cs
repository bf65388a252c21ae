using MetaNode.Chain;
using System.Diagnostics;
using MetaNode.Federation;
using MetaNode.Grains.Federation;

namespace MetaNode.Tests.Federation;

/// <summary>One round of a simulated federated run: the aggregate, its evaluation on the validator's held-out split, and the time it took.</summary>
internal sealed record SimulatedRound(RoundAggregate Aggregate, EvaluationOutcome Evaluation, IReadOnlyList<TrainingOutcome> Trainings, TimeSpan Elapsed);

/// <summary>
/// Drives the pure federation core the way the job grain will: federated standardization, then per round train on every compute
/// workload over HTTP, receipts, validator aggregation (<see cref="RoundAggregator"/>) and evaluation on a validator's held-out split.
/// </summary>
internal sealed class FederatedSimulation(FederatedWorkloadClient client, string job, FederatedJobSpec spec)
{
    public const long ChainId = 31337;

    public Standardization? Standardization { get; private set; }

    public FederatedModel Model { get; private set; } = FederatedModel.Zero(1, 1);

    public async Task<IReadOnlyList<SimulatedRound>> RunAsync(
        IReadOnlyDictionary<string, Uri> compute,
        Uri validator,
        int classes,
        int features,
        Func<int, ModelUpdate, ModelUpdate>? tamper = null)
    {
        var moments = await Task.WhenAll(compute.Values.Select(endpoint => client.GetStatisticsAsync(endpoint)));
        Standardization = StandardizationCombiner.Combine(moments);
        Model = FederatedModel.Zero(classes, features);
        var rounds = new List<SimulatedRound>();
        for (var round = 1; round <= spec.Rounds; round++)
        {
            var watch = Stopwatch.StartNew();
            var global = Model;
            var trainings = await Task.WhenAll(compute.Select(entry => client.TrainAsync(
                entry.Value,
                job,
                round,
                ChainId,
                null,
                global,
                Standardization,
                new TrainingHyperParameters(spec.LocalEpochs, spec.BatchSize, spec.LearningRate, FederatedSeeds.Training(spec.Seed, round, entry.Key)))));
            var updates = trainings.Select(t => new ModelUpdate(t.Receipt, t.Model, t.Metrics)).ToList();
            if (tamper is not null)
            {
                updates = updates.Select(u => tamper(round, u)).ToList();
            }

            // Each workload's receipt names the address that signed it: the simulation admits those (a job admits the proved ones).
            var participants = trainings.Select(t => new RoundParticipant(t.VPodId, EthereumSignatures.RecoverAddress(VPodTypedData.ReceiptDigest(t.Receipt, ChainId), EthereumSignatures.ParseSignature(t.Receipt.Signature)!)!, t.SampleCount)).ToList();
            var aggregate = RoundAggregator.Aggregate(new RoundFacts(job, round, ChainId, global, spec.Robust, participants), updates, spec.MinParticipants);
            Assert.True(aggregate.Succeeded, $"round {round} did not aggregate: {string.Join("; ", aggregate.Rejected)}");
            Model = aggregate.Model!;
            var evaluation = await client.EvaluateAsync(validator, job, round, Model, Standardization);
            rounds.Add(new SimulatedRound(aggregate, evaluation, trainings, watch.Elapsed));
        }

        return rounds;
    }
}

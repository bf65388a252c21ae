using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using MetaNode.Chain;
using MetaNode.Federation;
using MetaNode.Federation.SecureAggregation;
using MetaNode.VPods;
using MetaNode.Workload;
using MetaNode.Workload.Federation;
using MetaNode.Workload.Keys;
using MetaNode.Workload.Learning;
using MetaNode.Workloads;
using Nethereum.Signer;

namespace MetaNode.Bench;

/// <summary>
/// Secure aggregation against federated averaging, side by side in one run:
/// <list type="number">
/// <item>bandwidth: the bytes one compute workload sends in a round (its answers as JSON on the wire, and the raw payload), for
/// n = 10 and n = 50 in-process C# workloads with the digits model (10 × 65 parameters);</item>
/// <item>round time: jobs on one silo with a local anvil over n = 10 and n = 50 compute process vPods and 3 validators, each
/// algorithm in turn over the same vPods.</item>
/// </list>
/// </summary>
internal static class SecureAggregationBench
{
    private const int Classes = 10;
    private const int Features = 64;

    public static async Task RunAsync(string[] args)
    {
        var rounds = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 5;
        var sizes = args.Length > 1 ? args[1].Split(',').Select(s => int.Parse(s, CultureInfo.InvariantCulture)).ToArray() : [10, 50];
        var cpuMillis = args.Length > 2 ? long.Parse(args[2], CultureInfo.InvariantCulture) : 1000;
        Console.WriteLine("## Bandwidth per compute vPod and round (digits model, 650 parameters)");
        Console.WriteLine("| n | t | neighbours | plaintext answer (JSON) | secure answers (JSON) | expansion | plaintext payload | secure payload | expansion | one validator's unmasking (one core, in process) |");
        Console.WriteLine("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        foreach (var n in sizes)
        {
            Bandwidth(n);
        }

        if (rounds <= 0)
        {
            return;
        }

        Console.WriteLine();
        Console.WriteLine($"## Round time, {rounds} rounds per job (digits, iid, quorum 2, anvil, {cpuMillis}m CPU per vPod)");
        Console.WriteLine("| n | algorithm | median round ms | median slowest training ms | median overhead ms | final accuracy |");
        Console.WriteLine("|---:|---|---:|---:|---:|---:|");
        foreach (var n in sizes)
        {
            await RoundTimesAsync(n, rounds, cpuMillis);
        }
    }

    /// <summary>One round of the protocol among n in-process workloads; what each sends, as the silo receives it.</summary>
    private static void Bandwidth(int n)
    {
        var root = Path.Combine(Path.GetTempPath(), "metanode-bench-secagg", Guid.NewGuid().ToString("N")[..8]);
        try
        {
            var json = WorkloadJson.Default;
            var parties = Enumerable.Range(0, n).Select(i => Party(root, $"vpod-{i:000}", 100, i)).ToList();
            var t = SecAggParameters.DefaultThreshold(n);
            SecAggParticipantDto[] participants = [.. parties.Select(p => new SecAggParticipantDto(p.Id, p.Key.Address))];
            var sent = parties.ToDictionary(p => p.Id, _ => 0L);
            long payload = 0;
            T Count<T>(string id, T answer, System.Text.Json.Serialization.Metadata.JsonTypeInfo<T> type)
            {
                sent[id] += JsonSerializer.SerializeToUtf8Bytes(answer, type).Length;
                return answer;
            }

            var keys = parties.Select(p => Count(p.Id, p.Compute.Keys(new SecAggKeysRequest("bench", 1, 31337, 1, t, participants)), json.SecAggKeysDto)).ToArray();
            var inbox = parties.ToDictionary(p => p.Id, _ => new List<SecAggEnvelopeDto>());
            foreach (var party in parties)
            {
                foreach (var envelope in Count(party.Id, party.Compute.Shares(new SecAggSharesRequest("bench", 1, keys)), json.SecAggSharesResponse).Shares)
                {
                    inbox[envelope.To!].Add(envelope with { From = party.Id });
                    payload += envelope.Ciphertext.Length / 2 - 1;
                }
            }

            var global = ModelDto.From(FederatedModel.Zero(Classes, Features));
            var hyper = new HyperParametersDto(1, 16, 0.1, 1);
            long plain = 0;
            var trainedAnswers = new List<SecAggTrainResponse>();
            foreach (var party in parties)
            {
                var masked = Count(party.Id, party.Compute.Train(new SecAggTrainRequest("bench", 1, 31337, 100, 100, global, null, hyper, [.. inbox[party.Id]])), json.SecAggTrainResponse);
                payload += 4L * masked.Masked.Length;
                trainedAnswers.Add(masked);
                var trained = party.Learning.Train(new TrainRequest("bench", 1, 31337, 100, global, null, hyper));
                plain += JsonSerializer.SerializeToUtf8Bytes(new TrainResponse("bench", 1, party.Id, ModelDto.From(trained.Model), 100, trained.Metrics, new ReceiptDto("bench", 1, party.Id, 100, "0x" + new string('0', 64), "0x" + new string('0', 130))), json.TrainResponse).Length;
            }

            string[] survivors = [.. parties.Select(p => p.Id)];
            var signatures = parties.Select(p => Count(p.Id, p.Compute.Survivors(new SecAggSurvivorsRequest("bench", 1, survivors)), json.SecAggSignatureDto)).ToArray();
            var reveals = new List<SecAggRevealDto>();
            foreach (var party in parties)
            {
                var reveal = Count(party.Id, party.Compute.Reveal(new SecAggRevealRequest("bench", 1, survivors, signatures)), json.SecAggRevealDto);
                payload += reveal.Shares.Length * ShamirSharing.ShareLength;
                reveals.Add(reveal);
            }

            // The validator's side: check the transcript, rebuild every self-mask, unmask, sign.
            var validatorKey = VPodKeyFile.Generate();
            var validatorDirectory = Path.Combine(root, "validator");
            Directory.CreateDirectory(validatorDirectory);
            var validation = new SecureValidation(new RoundValidation(parties[0].Learning, validatorKey, new SignedRoundLog(validatorDirectory), "vpod-validator", Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance));
            var transcript = new SecAggAggregateRequest("bench", 1, 31337, "0x5fbdb2315678afecb367f032d93f642f64180aa3", 1, t, global, null,
                [.. parties.Select(p => new ParticipantDto(p.Id, p.Key.Address, 100))], keys, survivors, signatures,
                [.. trainedAnswers.Select(m => new SecAggMaskedDto(m.Receipt, m.Masked, m.MaskedWith, m.MaxSamples))], [.. reveals]);
            var unmasking = Stopwatch.StartNew();
            validation.Aggregate(transcript);
            var unmaskMs = unmasking.Elapsed.TotalMilliseconds;

            // Raw payload per vPod: masked values (4 bytes each), sealed shares and revealed shares, plus two 65-byte keys and four 65-byte signatures.
            var securePayload = (payload / (double)n) + (2 * 65) + (4 * 65);
            var plainPayload = (8.0 * FederatedModel.ParameterCount(Classes, Features)) + 65;
            var neighbours = SecAggParameters.NeighbourhoodSize(n) - 1;
            var secureJson = sent.Values.Average();
            var plainJson = plain / (double)n;
            Console.WriteLine(FormattableString.Invariant($"| {n} | {t} | {neighbours} | {plainJson:F0} B | {secureJson:F0} B | {secureJson / plainJson:F2}× | {plainPayload:F0} B | {securePayload:F0} B | {securePayload / plainPayload:F2}× | {unmaskMs:F0} ms |"));
        }
        finally
        {
            BenchHost.DeleteDirectory(root);
        }
    }

    private sealed record BenchParty(string Id, VPodKey Key, LocalLearning Learning, SecureCompute Compute);

    private static BenchParty Party(string root, string id, int rows, int seed)
    {
        var keyDirectory = Path.Combine(root, id, "key");
        var dataDirectory = Path.Combine(root, id, "data");
        Directory.CreateDirectory(keyDirectory);
        Directory.CreateDirectory(dataDirectory);
        var random = new Random(seed);
        var csv = new StringBuilder();
        for (var r = 0; r < rows; r++)
        {
            var label = random.Next(Classes);
            for (var j = 0; j < Features; j++)
            {
                csv.Append((random.Next(17) + (j % Classes == label ? 4 : 0)).ToString(CultureInfo.InvariantCulture)).Append(',');
            }

            csv.Append(label).Append('\n');
        }

        File.WriteAllText(Path.Combine(dataDirectory, "train.csv"), csv.ToString());
        File.WriteAllText(Path.Combine(dataDirectory, "manifest.json"), FormattableString.Invariant(
            $"{{\"format\":\"metanode-partition/1\",\"features\":{Features},\"classes\":{Classes},\"splits\":{{\"train\":{{\"file\":\"train.csv\",\"rows\":{rows}}}}}}}"));
        var key = VPodKeyFile.Generate();
        var learning = new LocalLearning(new PartitionDirectory(dataDirectory), id);
        return new BenchParty(id, key, learning, new SecureCompute(learning, key, new SecureComputeState(keyDirectory), id));
    }

    private static async Task RoundTimesAsync(int n, int rounds, long cpuMillis)
    {
        var dataDirectory = Path.Combine(Path.GetTempPath(), "metanode-bench-secagg", Guid.NewGuid().ToString("N")[..8]);
        using var anvil = await BenchAnvil.StartAsync(null);
        try
        {
            var key = EthECKey.GenerateKey();
            await anvil.FundAsync(key.GetPublicAddress());
            var settings = FederatedRoundBench.JobSiloSettings(anvil, key);
            settings["MetaNode:Capacity:Cpu"] = "64";
            await using var cluster = await BenchHost.StartSiloAsync(dataDirectory, settings);
            var grains = cluster.Client;
            await FederatedRoundBench.DeployAsync(grains, $"sa-compute-{n}", n, VPodType.Compute, cpuMillis);
            await FederatedRoundBench.DeployAsync(grains, "sa-validators", 3, VPodType.Validator, cpuMillis);
            await grains.GetGrain<IChainGrain>(ChainKeys.Default).DeployRegistryAsync(new DeployRegistryCommand { Threshold = 2 });
            var spec = new FederatedJobSpec
            {
                ComputeCluster = $"sa-compute-{n}",
                ValidatorCluster = "sa-validators",
                Dataset = "digits",
                Rounds = rounds,
                Quorum = 2,
                Seed = 1,
                RoundDeadline = TimeSpan.FromMinutes(2),
            };

            // A warm-up round of each, then the measured jobs.
            await FederatedRoundBench.RunJobAsync(grains, spec with { Rounds = 1 });
            await FederatedRoundBench.RunJobAsync(grains, spec with { Rounds = 1, Algorithm = FederatedAlgorithm.SecureAggregation });
            foreach (var algorithm in new[] { FederatedAlgorithm.FederatedAverage, FederatedAlgorithm.SecureAggregation })
            {
                var (status, _) = await FederatedRoundBench.RunJobAsync(grains, spec with { Algorithm = algorithm });
                double Median(Func<RoundTimings, double> pick)
                {
                    var values = status.Timings.Select(pick).Order().ToList();
                    return values.Count == 0 ? double.NaN : values[values.Count / 2];
                }

                var name = algorithm == FederatedAlgorithm.SecureAggregation ? "secure-aggregation" : "federated-average";
                Console.WriteLine(FormattableString.Invariant(
                    $"| {n} | {name} ({status.Phase}) | {Median(t => t.TotalMs):F0} | {Median(t => t.SlowestTrainingMs):F0} | {Median(t => t.OverheadMs):F0} | {status.FinalAccuracy:F4} |"));
            }

            await FederatedRoundBench.DeleteClustersAsync(grains, $"sa-compute-{n}", "sa-validators");

            await cluster.StopAllSilosAsync();
        }
        finally
        {
            BenchHost.DeleteDirectory(dataDirectory);
            BenchHost.DeleteDirectory(dataDirectory + "-vpods");
        }
    }
}

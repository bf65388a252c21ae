using System.Globalization;
using System.Text;
using System.Text.Json;
using MetaNode.Federation;
using MetaNode.Federation.SecureAggregation;
using MetaNode.Workload;
using MetaNode.Workload.Federation;
using MetaNode.Workload.Keys;
using MetaNode.Workload.Learning;
using MetaNode.Workloads;
using Microsoft.Extensions.Logging.Abstractions;

namespace MetaNode.Tests.Federation;

/// <summary>
/// The secure-aggregation protocol between real C# workload parts (each compute vPod's <see cref="SecureCompute"/> over its own key,
/// data and state directory; a validator's <see cref="SecureValidation"/>), driven by a silo that records every message each party
/// receives. The silo here is the test: it can also be hostile.
/// </summary>
public sealed class SecureAggregationProtocolTests : IDisposable
{
    private const string Job = "job-secure";
    private const long ChainId = 31337;
    private const ulong Seed = 7;
    private const string Registry = "0x5fbdb2315678afecb367f032d93f642f64180aa3";
    private const int Classes = 4;
    private const int Features = 32;

    private readonly string _root = Path.Combine(Path.GetTempPath(), "metanode-secagg-" + Guid.NewGuid().ToString("N")[..10]);

    public void Dispose()
    {
        try
        {
            Directory.Delete(_root, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    private sealed class Party
    {
        public required string Id { get; init; }
        public required VPodKey Key { get; init; }
        public required string KeyDirectory { get; init; }
        public required LocalLearning Learning { get; init; }
        public required SecureCompute Compute { get; init; }
        public required SecureValidation Validation { get; init; }
        public int Rows { get; init; }

        /// <summary>Every request body this party received, as the bytes on the wire.</summary>
        public List<byte[]> Received { get; } = [];
    }

    /// <summary>The silo's side: every answer it received, as bytes.</summary>
    private readonly List<byte[]> _silo = [];

    private Party NewParty(string id, int rows, int dataSeed)
    {
        var keyDirectory = Path.Combine(_root, id, "key");
        var dataDirectory = Path.Combine(_root, id, "data");
        Directory.CreateDirectory(keyDirectory);
        Directory.CreateDirectory(dataDirectory);
        var random = new Random(dataSeed);
        var csv = new StringBuilder();
        for (var r = 0; r < rows; r++)
        {
            var label = random.Next(Classes);
            for (var j = 0; j < Features; j++)
            {
                csv.Append((random.NextDouble() + (j % Classes == label ? 1.5 : 0)).ToString("R", CultureInfo.InvariantCulture)).Append(',');
            }

            csv.Append(label).Append('\n');
        }

        File.WriteAllText(Path.Combine(dataDirectory, "train.csv"), csv.ToString());
        File.WriteAllText(Path.Combine(dataDirectory, "test.csv"), csv.ToString());
        File.WriteAllText(Path.Combine(dataDirectory, "manifest.json"),
            "{\"format\":\"metanode-partition/1\",\"features\":" + Features + ",\"classes\":" + Classes + ",\"splits\":{\"train\":{\"file\":\"train.csv\",\"rows\":" + rows
            + "},\"test\":{\"file\":\"test.csv\",\"rows\":" + rows + "}}}");
        var key = VPodKeyFile.Generate();
        var learning = new LocalLearning(new PartitionDirectory(dataDirectory), id);
        var validation = new RoundValidation(learning, key, new SignedRoundLog(keyDirectory), id, NullLogger.Instance);
        return new Party
        {
            Id = id,
            Key = key,
            KeyDirectory = keyDirectory,
            Learning = learning,
            Compute = new SecureCompute(learning, key, new SecureComputeState(keyDirectory), id),
            Validation = new SecureValidation(validation),
            Rows = rows,
        };
    }

    private TResponse Send<TRequest, TResponse>(Party party, TRequest request, Func<TRequest, TResponse> handler, System.Text.Json.Serialization.Metadata.JsonTypeInfo<TRequest> requestType, System.Text.Json.Serialization.Metadata.JsonTypeInfo<TResponse> responseType)
    {
        // What crosses the wire is what each side receives: the request for the party, the answer for the silo.
        var requestBytes = JsonSerializer.SerializeToUtf8Bytes(request, requestType);
        party.Received.Add(requestBytes);
        var answer = handler(JsonSerializer.Deserialize(requestBytes, requestType)!);
        var answerBytes = JsonSerializer.SerializeToUtf8Bytes(answer, responseType);
        _silo.Add(answerBytes);
        return JsonSerializer.Deserialize(answerBytes, responseType)!;
    }

    private static readonly ModelDto Global = ModelDto.From(FederatedModel.Zero(Classes, Features));

    private static HyperParametersDto Hyper(string id) => new(3, 8, 0.1, FederatedSeeds.Training(Seed, 1, id));

    private sealed record Round(
        List<Party> Compute,
        int Threshold,
        List<SecAggKeysDto> Keys,
        Dictionary<string, List<SecAggEnvelopeDto>> Inbox,
        Dictionary<string, SecAggTrainResponse> Masked);

    /// <summary>Stages 1–3 for every compute party; the ones in <paramref name="dropBeforeMasking"/> leave after sharing.</summary>
    private Round RunToMasked(List<Party> compute, int threshold, params string[] dropBeforeMasking)
    {
        var json = WorkloadJson.Default;
        SecAggParticipantDto[] participants = [.. compute.Select(p => new SecAggParticipantDto(p.Id, p.Key.Address))];
        var keys = compute.Select(p => Send(p, new SecAggKeysRequest(Job, 1, ChainId, Seed, threshold, participants), p.Compute.Keys, json.SecAggKeysRequest, json.SecAggKeysDto)).ToList();
        var inbox = compute.ToDictionary(p => p.Id, _ => new List<SecAggEnvelopeDto>());
        foreach (var party in compute)
        {
            var shares = Send(party, new SecAggSharesRequest(Job, 1, [.. keys]), party.Compute.Shares, json.SecAggSharesRequest, json.SecAggSharesResponse);
            foreach (var envelope in shares.Shares)
            {
                inbox[envelope.To!].Add(envelope with { From = party.Id, To = envelope.To });
            }
        }

        var maxSamples = compute.Max(p => (long)p.Rows);
        var masked = new Dictionary<string, SecAggTrainResponse>(StringComparer.Ordinal);
        foreach (var party in compute.Where(p => !dropBeforeMasking.Contains(p.Id)))
        {
            masked[party.Id] = Send(party, new SecAggTrainRequest(Job, 1, ChainId, party.Rows, maxSamples, Global, null, Hyper(party.Id), [.. inbox[party.Id]]),
                party.Compute.Train, json.SecAggTrainRequest, json.SecAggTrainResponse);
        }

        return new Round(compute, threshold, keys, inbox, masked);
    }

    private (List<SecAggSignatureDto> Signatures, List<SecAggRevealDto> Reveals) Unmask(Round round, IReadOnlyList<string> survivors, IEnumerable<string> revealers)
    {
        var json = WorkloadJson.Default;
        var signatures = round.Compute.Where(p => survivors.Contains(p.Id))
            .Select(p => Send(p, new SecAggSurvivorsRequest(Job, 1, [.. survivors]), p.Compute.Survivors, json.SecAggSurvivorsRequest, json.SecAggSignatureDto)).ToList();
        var reveals = round.Compute.Where(p => revealers.Contains(p.Id))
            .Select(p => Send(p, new SecAggRevealRequest(Job, 1, [.. survivors], [.. signatures]), p.Compute.Reveal, json.SecAggRevealRequest, json.SecAggRevealDto)).ToList();
        return (signatures, reveals);
    }

    private AggregateResponse Aggregate(Party validator, Round round, IReadOnlyList<string> survivors, List<SecAggSignatureDto> signatures, List<SecAggRevealDto> reveals) =>
        Send(validator, new SecAggAggregateRequest(Job, 1, ChainId, Registry, Seed, round.Threshold, Global, null,
                [.. round.Compute.Select(p => new ParticipantDto(p.Id, p.Key.Address, p.Rows))],
                [.. round.Keys], [.. survivors], [.. signatures],
                [.. survivors.Select(id => round.Masked[id]).Select(m => new SecAggMaskedDto(m.Receipt, m.Masked, m.MaskedWith, m.MaxSamples))],
                [.. reveals]),
            validator.Validation.Aggregate, WorkloadJson.Default.SecAggAggregateRequest, WorkloadJson.Default.AggregateResponse);

    /// <summary>Plain weighted FedAvg of the same parties' updates, trained with the same requests.</summary>
    private static double[] PlainAverage(IEnumerable<Party> parties)
    {
        var sum = new double[FederatedModel.ParameterCount(Classes, Features)];
        long total = 0;
        foreach (var party in parties)
        {
            var trained = party.Learning.Train(new TrainRequest(Job, 1, ChainId, party.Rows, Global, null, Hyper(party.Id)));
            for (var k = 0; k < sum.Length; k++)
            {
                sum[k] += party.Rows * trained.Model.Parameters[k];
            }

            total += party.Rows;
        }

        return [.. sum.Select(v => v / total)];
    }

    private List<Party> Parties(int count, Func<int, int> rows) =>
        [.. Enumerable.Range(1, count).Select(i => NewParty($"vpod-c{i:00}", rows(i), 100 + i))];

    [Fact]
    public void SecureRound_UnmasksOnlyTheSum_EqualToWeightedFedAvgWithinTheQuantizationError_WithDropoutsBeforeAndAfterMasking()
    {
        var compute = Parties(6, i => 20 + (7 * i));
        var validator = NewParty("vpod-v01", 30, 99);
        // c06 shares its secrets and leaves before masking; c05 sends its masked update and leaves before the reveal.
        var round = RunToMasked(compute, threshold: 4, "vpod-c06");
        List<string> survivors = ["vpod-c01", "vpod-c02", "vpod-c03", "vpod-c04", "vpod-c05"];
        var (signatures, reveals) = Unmask(round, survivors, ["vpod-c01", "vpod-c02", "vpod-c03", "vpod-c04"]);
        var answer = Aggregate(validator, round, survivors, signatures, reveals);

        Assert.Equal(survivors, answer.Participants);
        Assert.Empty(answer.Rejected);
        var expected = PlainAverage(compute.Where(p => survivors.Contains(p.Id)));
        var actual = answer.Model.ToModel().Parameters;
        var maxSamples = compute.Max(p => p.Rows);
        var weights = compute.Where(p => survivors.Contains(p.Id)).Sum(p => MaskMath.Weight(p.Rows, maxSamples));
        // Each participant's stochastic rounding is off by less than one step of 1/scale, after its weight; the sum is divided by the weights.
        var bound = survivors.Count / (SecAggParameters.Scale * weights);
        var worst = expected.Zip(actual, (e, a) => Math.Abs(e - a)).Max();
        Assert.True(worst <= bound, $"secure aggregate differs from FedAvg by {worst} in some coordinate; the quantization bound is {bound}");
        Assert.True(expected.Zip(actual, (e, a) => Math.Abs(e - a)).Count(d => d > 0) > 0, "the secure aggregate is bit-identical to FedAvg: it was not quantized");

        // The validator's digest is its own: the model it returned hashes to the result it signed.
        Assert.Equal(ModelEncoding.HashHex(answer.Model.ToModel()), answer.ResultHash);

        AssertNoPartyCanUnmaskOne(round, survivors, validator);
        AssertLooksUniform(round.Masked.Values.SelectMany(m => m.Masked));
    }

    /// <summary>
    /// For each party and each participant: the party never holds t shares of both of its secrets, and never its masked update together
    /// with every mask on it. Shares in a party's view are those in plaintext in what it received — the silo's recorded answers, the
    /// validator's request, and for a compute vPod the envelopes it can open (one share of each kind per peer).
    /// </summary>
    private void AssertNoPartyCanUnmaskOne(Round round, IReadOnlyList<string> survivors, Party validator)
    {
        // Every share any compute vPod holds, from its durable state.
        var state = round.Compute.ToDictionary(p => p.Id, p => new SecureComputeState(p.KeyDirectory).ReadRound(Job, 1)!);
        var allShares = state.SelectMany(s => s.Value.Held.SelectMany(h => new[] { (Holder: s.Key, Peer: h.Key, Kind: "self-mask", Hex: h.Value.SelfMask), (Holder: s.Key, Peer: h.Key, Kind: "mask-key", Hex: h.Value.MaskKey) })).ToList();
        Assert.NotEmpty(allShares);

        var views = new Dictionary<string, string>
        {
            ["silo"] = string.Concat(_silo.Select(Encoding.UTF8.GetString)),
            [validator.Id] = string.Concat(validator.Received.Select(Encoding.UTF8.GetString)),
        };
        foreach (var party in round.Compute)
        {
            // A compute vPod sees its requests, and inside them the envelopes it can open: its own held shares.
            views[party.Id] = string.Concat(party.Received.Select(Encoding.UTF8.GetString))
                + string.Concat(state[party.Id].Held.Select(h => h.Value.SelfMask + h.Value.MaskKey));
        }

        var t = round.Threshold;
        foreach (var (name, view) in views)
        {
            var visible = allShares.Where(s => view.Contains(s.Hex, StringComparison.OrdinalIgnoreCase)).ToList();
            foreach (var participant in round.Compute.Select(p => p.Id))
            {
                var selfMask = visible.Where(s => s.Peer == participant && s.Kind == "self-mask").Select(s => s.Holder).Distinct().Count();
                var maskKey = visible.Where(s => s.Peer == participant && s.Kind == "mask-key").Select(s => s.Holder).Distinct().Count();
                Assert.False(selfMask >= t && maskKey >= t, $"{name} holds {selfMask} self-mask and {maskKey} mask-key shares of {participant} (t={t})");

                // Holding the masked update and the self-mask is not enough: some pairwise mask on it must stay unknown.
                if (round.Masked.TryGetValue(participant, out var masked) && view.Contains(string.Join(",", masked.Masked.Take(8)), StringComparison.Ordinal) && selfMask >= t)
                {
                    var unknown = masked.MaskedWith.Any(j => maskKey < t
                        && visible.Where(s => s.Peer == j && s.Kind == "mask-key").Select(s => s.Holder).Distinct().Count() < t);
                    Assert.True(unknown, $"{name} could remove every mask from {participant}'s update");
                }
            }

            if (name == "silo")
            {
                // The silo sees shares only as the survivors revealed them: none of a survivor's mask key, none of a dropped vPod's self-mask.
                Assert.DoesNotContain(visible, s => survivors.Contains(s.Peer) && s.Kind == "mask-key");
                Assert.DoesNotContain(visible, s => !survivors.Contains(s.Peer) && s.Kind == "self-mask");
            }
        }
    }

    /// <summary>A chi-square test of the masked values' top 4 bits: masked updates look like uniform noise.</summary>
    private static void AssertLooksUniform(IEnumerable<uint> values)
    {
        var buckets = new int[16];
        var count = 0;
        foreach (var value in values)
        {
            buckets[value >> 28]++;
            count++;
        }

        var expected = count / 16.0;
        var chi = buckets.Sum(b => (b - expected) * (b - expected) / expected);
        // 15 degrees of freedom: P(χ² > 37.7) = 0.001. Unmasked quantized deltas sit near 2^21 and fail this by orders of magnitude.
        Assert.True(chi < 37.7, $"masked values are not uniform: χ² = {chi:F1} over {count} values ({string.Join(",", buckets)})");
    }

    [Fact]
    public void QuantizedButUnmaskedValues_FailTheUniformityTest()
    {
        var compute = Parties(3, _ => 30);
        var trained = compute[0].Learning.Train(new TrainRequest(Job, 1, ChainId, 30, Global, null, Hyper(compute[0].Id)));
        var quantized = MaskMath.Quantize(trained.Model.Parameters, FederatedModel.Zero(Classes, Features).Parameters, 1.0, 1);
        Assert.Throws<Xunit.Sdk.TrueException>(() => AssertLooksUniform(quantized));
    }

    [Fact]
    public void TooFewSurvivorsToRebuildAMask_AbortsNamingTheThreshold()
    {
        var compute = Parties(5, _ => 30);
        var validator = NewParty("vpod-v01", 30, 99);
        var round = RunToMasked(compute, threshold: 3);
        List<string> survivors = ["vpod-c01", "vpod-c02", "vpod-c03", "vpod-c04", "vpod-c05"];
        // n − t + 1 = 3 of them die after masking: 2 reveals are fewer than t.
        var (signatures, reveals) = Unmask(round, survivors, ["vpod-c01", "vpod-c02"]);
        var error = Assert.Throws<WorkloadConflictException>(() => Aggregate(validator, round, survivors, signatures, reveals));
        Assert.Contains("t=3", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void AHostileSilo_ThatShowsTwoSurvivorSets_OrAsksForBothKindsOfShare_GetsNothingUsable()
    {
        var compute = Parties(5, _ => 30);
        var round = RunToMasked(compute, threshold: 3);
        string[] all = ["vpod-c01", "vpod-c02", "vpod-c03", "vpod-c04", "vpod-c05"];
        string[] withoutC05 = ["vpod-c01", "vpod-c02", "vpod-c03", "vpod-c04"];

        // Two sets: c01, c02 are shown all five; c03, c04, c05 are shown the set without c05 (c05 refuses: it is not in it).
        var signedAll = compute.Take(2).Select(p => p.Compute.Survivors(new SecAggSurvivorsRequest(Job, 1, all))).ToList();
        var signedWithout = compute.Skip(2).Take(2).Select(p => p.Compute.Survivors(new SecAggSurvivorsRequest(Job, 1, withoutC05))).ToList();
        Assert.Throws<WorkloadConflictException>(() => compute[4].Compute.Survivors(new SecAggSurvivorsRequest(Job, 1, withoutC05)));

        // Each vPod confirms one set per round: asking c01 to confirm the other set is refused.
        Assert.Throws<WorkloadConflictException>(() => compute[0].Compute.Survivors(new SecAggSurvivorsRequest(Job, 1, withoutC05)));

        // Neither set has t = 3 signatures, so nobody reveals anything for either.
        foreach (var party in compute.Take(4))
        {
            Assert.Throws<WorkloadConflictException>(() => party.Compute.Reveal(new SecAggRevealRequest(Job, 1, all, [.. signedAll, .. signedWithout])));
            Assert.Throws<WorkloadConflictException>(() => party.Compute.Reveal(new SecAggRevealRequest(Job, 1, withoutC05, [.. signedAll, .. signedWithout])));
        }

        // Forged signatures (another key over the set) do not count either.
        var stranger = VPodKeyFile.Generate();
        var forged = all.Select(id => new SecAggSignatureDto(id, stranger.Sign(SecAggEncoding.SurvivorsDigest(ChainId, Job, 1, id, all)))).ToArray();
        Assert.Throws<WorkloadConflictException>(() => compute[0].Compute.Reveal(new SecAggRevealRequest(Job, 1, all, forged)));
        Assert.All(compute, p => Assert.Empty(new SecureComputeState(p.KeyDirectory).ReadRound(Job, 1)!.Revealed));
    }

    [Fact]
    public void AComputeVPod_RevealsOneKindOfShareForAPeer_EvenAcrossRestarts()
    {
        var compute = Parties(4, _ => 30);
        var round = RunToMasked(compute, threshold: 3, "vpod-c04");
        string[] survivors = ["vpod-c01", "vpod-c02", "vpod-c03"];
        var signatures = compute.Take(3).Select(p => p.Compute.Survivors(new SecAggSurvivorsRequest(Job, 1, survivors))).ToArray();
        var reveal = compute[0].Compute.Reveal(new SecAggRevealRequest(Job, 1, survivors, signatures));
        Assert.Equal(["vpod-c01 self-mask", "vpod-c02 self-mask", "vpod-c03 self-mask", "vpod-c04 mask-key"], reveal.Shares.Select(s => $"{s.Peer} {s.Kind}"));

        // The record is durable: a new process (a new SecureCompute over the same key directory) whose record of the signed set was
        // tampered with to include c04 still refuses to reveal c04's other share.
        var state = new SecureComputeState(compute[0].KeyDirectory);
        var record = state.ReadRound(Job, 1)!;
        string[] withC04 = ["vpod-c01", "vpod-c02", "vpod-c03", "vpod-c04"];
        record.SignedSurvivors = withC04;
        state.WriteRound(Job, 1, record);
        var restarted = new SecureCompute(compute[0].Learning, compute[0].Key, state, compute[0].Id);
        var forgedSet = compute.Select(p => new SecAggSignatureDto(p.Id, p.Key.Sign(SecAggEncoding.SurvivorsDigest(ChainId, Job, 1, p.Id, withC04)))).ToArray();
        var refused = Assert.Throws<WorkloadConflictException>(() => restarted.Reveal(new SecAggRevealRequest(Job, 1, withC04, forgedSet)));
        Assert.Contains("never reveals both", refused.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ARevealerThatShowsBothKindsForAPeer_IsExcluded_AndTheRoundUnmasksWithoutItsShares()
    {
        var compute = Parties(5, _ => 30);
        var validator = NewParty("vpod-v01", 30, 99);
        var round = RunToMasked(compute, threshold: 3);
        List<string> survivors = ["vpod-c01", "vpod-c02", "vpod-c03", "vpod-c04", "vpod-c05"];
        var (signatures, reveals) = Unmask(round, survivors, survivors);

        // c05 is malicious: it adds c01's mask-key share to its reveal and signs it with its own key.
        var c05 = compute[4];
        var held = new SecureComputeState(c05.KeyDirectory).ReadRound(Job, 1)!.Held["vpod-c01"];
        var honest = reveals.Single(r => r.VPodId == c05.Id);
        SecAggShareDto[] shares = [.. honest.Shares, new SecAggShareDto("vpod-c01", "mask-key", held.MaskKey)];
        var revealed = shares.Select(s => new RevealedShare(s.Peer, SecAggEncoding.ParseKind(s.Kind)!.Value, Convert.FromHexString(s.Share[2..]))).ToList();
        var malicious = new SecAggRevealDto(c05.Id, shares, c05.Key.Sign(SecAggEncoding.RevealDigest(ChainId, Job, 1, c05.Id, revealed)));
        reveals = [.. reveals.Where(r => r.VPodId != c05.Id), malicious];

        var answer = Aggregate(validator, round, survivors, signatures, reveals);
        var rejected = Assert.Single(answer.Rejected);
        Assert.Equal(c05.Id, rejected.VPodId);
        Assert.Contains("two shares for vpod-c01", rejected.Reason, StringComparison.Ordinal);
        var expected = PlainAverage(compute);
        Assert.True(expected.Zip(answer.Model.ToModel().Parameters, (e, a) => Math.Abs(e - a)).Max() <= 5 / SecAggParameters.Scale / 5);
    }

    [Fact]
    public void AComputeVPod_MasksOneTrainingRequestPerRound_AndRepeatsItsAnswerForTheSameOne()
    {
        var compute = Parties(4, _ => 30);
        var round = RunToMasked(compute, threshold: 3);
        var party = compute[0];
        var request = new SecAggTrainRequest(Job, 1, ChainId, party.Rows, 30, Global, null, Hyper(party.Id), [.. round.Inbox[party.Id]]);
        Assert.Equal(round.Masked[party.Id].Masked, party.Compute.Train(request).Masked);

        // Another learning rate under the same masks would let the silo subtract the two answers: refused.
        var other = request with { HyperParameters = Hyper(party.Id) with { LearningRate = 0.2 } };
        Assert.Contains("masks once per round", Assert.Throws<WorkloadConflictException>(() => party.Compute.Train(other)).Message, StringComparison.Ordinal);
        var fewer = request with { Shares = [.. round.Inbox[party.Id].Skip(1)] };
        Assert.Throws<WorkloadConflictException>(() => party.Compute.Train(fewer));
    }

    [Fact]
    public void AForgedRevealThatComesFirst_DoesNotHideTheRealOne()
    {
        var compute = Parties(4, _ => 30);
        var validator = NewParty("vpod-v01", 30, 99);
        var round = RunToMasked(compute, threshold: 3);
        List<string> survivors = ["vpod-c01", "vpod-c02", "vpod-c03", "vpod-c04"];
        var (signatures, reveals) = Unmask(round, survivors, ["vpod-c01", "vpod-c02", "vpod-c03"]);
        var real = reveals[0];
        var stranger = VPodKeyFile.Generate();
        SecAggShareDto[] junk = [.. real.Shares.Select(s => s with { Share = "0x" + new string('1', 132) })];
        var forgedShares = junk.Select(s => new RevealedShare(s.Peer, SecAggEncoding.ParseKind(s.Kind)!.Value, Convert.FromHexString(s.Share[2..]))).ToList();
        var forged = new SecAggRevealDto(real.VPodId, junk, stranger.Sign(SecAggEncoding.RevealDigest(ChainId, Job, 1, real.VPodId, forgedShares)));

        var answer = Aggregate(validator, round, survivors, signatures, [forged, .. reveals]);
        var expected = PlainAverage(compute);
        Assert.True(expected.Zip(answer.Model.ToModel().Parameters, (e, a) => Math.Abs(e - a)).Max() <= 1 / SecAggParameters.Scale);
    }

    [Fact]
    public void AComputeVPod_MasksOnlyWithEnvelopesSealedForIt_AndKeepsTheJobsParticipants()
    {
        var compute = Parties(4, _ => 30);
        SecAggParticipantDto[] participants = [.. compute.Select(p => new SecAggParticipantDto(p.Id, p.Key.Address))];
        var keys = compute.Select(p => p.Compute.Keys(new SecAggKeysRequest(Job, 1, ChainId, Seed, 3, participants))).ToArray();
        var inbox = compute.ToDictionary(p => p.Id, _ => new List<SecAggEnvelopeDto>());
        foreach (var party in compute)
        {
            foreach (var envelope in party.Compute.Shares(new SecAggSharesRequest(Job, 1, keys)).Shares)
            {
                inbox[envelope.To!].Add(envelope with { From = party.Id });
            }
        }

        // The silo hands c01 c02's envelope labelled as c03's (dropping c03's real one) and flips a byte of c04's: c01 opens
        // neither, so only its own share is left — fewer than t = 3, and it masks nothing.
        var c01 = inbox["vpod-c01"];
        var relabeled = c01.Select(e => e.From == "vpod-c02" ? e with { From = "vpod-c03" } : e)
            .Where(e => e.From != "vpod-c03" || e.Ciphertext == c01.Single(x => x.From == "vpod-c02").Ciphertext)
            .Select(e => e.From == "vpod-c04" ? e with { Ciphertext = e.Ciphertext[..^2] + (e.Ciphertext[^2..] == "00" ? "01" : "00") } : e).ToArray();
        var request = new SecAggTrainRequest(Job, 1, ChainId, 30, 30, Global, null, Hyper("vpod-c01"), relabeled);
        Assert.Contains("t=3", Assert.Throws<WorkloadConflictException>(() => compute[0].Compute.Train(request)).Message, StringComparison.Ordinal);

        // With the genuine envelopes it masks with all three.
        var answer = compute[0].Compute.Train(request with { Shares = [.. c01] });
        Assert.Equal(["vpod-c02", "vpod-c03", "vpod-c04"], answer.MaskedWith);

        // The job's participants are fixed by its first request: a later round with another set (a stranger's key) is refused.
        SecAggParticipantDto[] swapped = [.. participants[..3], new SecAggParticipantDto("vpod-c04", VPodKeyFile.Generate().Address)];
        Assert.Throws<WorkloadConflictException>(() => compute[0].Compute.Keys(new SecAggKeysRequest(Job, 2, ChainId, Seed, 3, swapped)));
    }

    [Fact]
    public void ThresholdRules_FollowTheGroupSize()
    {
        Assert.Null(SecAggParameters.ThresholdProblem(7, 10));
        Assert.Null(SecAggParameters.ThresholdProblem(6, 10));
        Assert.NotNull(SecAggParameters.ThresholdProblem(5, 10));
        Assert.NotNull(SecAggParameters.ThresholdProblem(11, 10));
        Assert.Equal(10, SecAggParameters.NeighbourhoodSize(10));
        Assert.Equal(40, SecAggParameters.NeighbourhoodSize(50));
        Assert.NotNull(SecAggParameters.ThresholdProblem(600, 1025));

        // Above the complete-graph limit the neighbourhoods are a regular graph: each vPod has d − 1 neighbours, and the relation is symmetric.
        var ids = Enumerable.Range(0, 50).Select(i => $"vpod-{i:000}").ToList();
        var graph = new NeighbourGraph(ids, 42, 3);
        foreach (var id in ids)
        {
            Assert.Equal(graph.Size, graph.Neighbourhood(id).Count);
            Assert.All(graph.Neighbourhood(id), n => Assert.True(graph.AreNeighbours(n, id)));
        }

        Assert.NotEqual(graph.Neighbourhood("vpod-000"), new NeighbourGraph(ids, 42, 4).Neighbourhood("vpod-000"));
    }

    [Fact]
    public void Shamir_RebuildsFromAnyTShares_AndNotFromFewer()
    {
        var secret = System.Security.Cryptography.RandomNumberGenerator.GetBytes(32);
        var shares = ShamirSharing.Split(secret, 3, [1, 2, 3, 4, 5]);
        Assert.Equal(secret, ShamirSharing.Combine(new Dictionary<int, byte[]> { [2] = shares[2], [4] = shares[4], [5] = shares[5] }, 3));
        Assert.Equal(secret, ShamirSharing.Combine(shares, 3));
        Assert.Null(ShamirSharing.Combine(new Dictionary<int, byte[]> { [1] = shares[1], [3] = shares[3] }, 3));
        var wrong = ShamirSharing.Combine(new Dictionary<int, byte[]> { [1] = shares[1], [3] = shares[3] }, 2);
        Assert.NotEqual(secret, wrong);
    }
}

using System.Text.Json;
using System.Text.Json.Nodes;
using MetaNode.Federation;
using MetaNode.Federation.SecureAggregation;
using MetaNode.Workloads;
using Xunit.Abstractions;

namespace MetaNode.Tests.Workload;

/// <summary>
/// Secure aggregation in the Python workload (<c>examples/python-workload</c>): its self-check drives a whole round over four compute
/// workloads and a validator (one compute vPod drops after masking), the C# <see cref="SecureRoundAggregator"/> unmasks that round's
/// transcript to the very model the Python validator signed, and every deterministic primitive (seeds, PRG, HKDF, P-256 agreement,
/// neighbour graphs, quantization, dequantization, encodings, typed digests, Shamir) gives the C# bits for the same inputs.
/// </summary>
public sealed class PythonSecureAggregationTests(ITestOutputHelper output) : IDisposable
{
    private static readonly TimeSpan SelfCheckTimeout = TimeSpan.FromMinutes(3);
    private static readonly TimeSpan VectorsTimeout = TimeSpan.FromSeconds(60);

    private readonly string _root = Path.Combine(Path.GetTempPath(), $"metanode-python-secagg-{Guid.NewGuid():N}");

    private static string SelfCheckScript => Path.Combine(AppContext.BaseDirectory, "examples", "python-workload", "secagg_selfcheck.py");

    public void Dispose()
    {
        if (Directory.Exists(_root))
        {
            Directory.Delete(_root, recursive: true);
        }
    }

    [Fact]
    public async Task PythonRound_PassesItsSelfCheck_AndUnmasksInCSharpToTheSignedModel()
    {
        Directory.CreateDirectory(_root);
        var transcriptPath = Path.Combine(_root, "transcript.json");
        var (exitCode, lines) = await RunSelfCheckAsync(["--transcript", transcriptPath], SelfCheckTimeout);
        Assert.True(exitCode == 0, $"the self-check exited {exitCode}:{Environment.NewLine}{string.Join(Environment.NewLine, lines)}");
        Assert.Contains("passed: 0 failed check(s)", lines);
        Assert.DoesNotContain(lines, l => l.StartsWith("FAIL", StringComparison.Ordinal));

        var transcript = JsonNode.Parse(await File.ReadAllTextAsync(transcriptPath))!;
        var request = transcript["request"].Deserialize<SecAggAggregateRequest>()!;
        var answer = transcript["answer"]!;
        var facts = new SecureRoundFacts(request.Job, request.Round, request.ChainId, request.Seed, request.Threshold, request.Global.ToModel(),
            [.. request.Participants.Select(p => new RoundParticipant(p.VPodId, p.Address, p.AssignedSamples))]);
        var aggregate = SecureRoundAggregator.Aggregate(
            facts,
            [.. request.Keys.Select(k => new AdvertisedKeys(k.VPodId, Hex(k.CipherKey), Hex(k.MaskKey), k.Signature))],
            request.Survivors,
            [.. request.SurvivorSignatures.Select(s => new SurvivorSignature(s.VPodId, s.Signature))],
            [.. request.Updates.Select(u => new MaskedUpdate(u.Receipt.ToReceipt(), u.Masked, u.MaskedWith, u.MaxSamples))],
            [.. request.Reveals.Select(r => new ShareReveal(r.VPodId,
                [.. r.Shares.Select(s => new RevealedShare(s.Peer, SecAggEncoding.ParseKind(s.Kind)!.Value, Hex(s.Share)))], r.Signature))]);

        // The C# validator unmasks the Python round to the same bytes: model, result hash, receipts root, participants.
        var pythonModel = answer["model"].Deserialize<ModelDto>()!.ToModel();
        Assert.Equal(ModelEncoding.Encode(pythonModel), ModelEncoding.Encode(aggregate.Model!));
        Assert.Equal((string)answer["resultHash"]!, aggregate.ModelHash);
        Assert.Equal((string)answer["receiptsRoot"]!, aggregate.ReceiptsRoot);
        Assert.Equal(answer["participants"]!.AsArray().Select(p => (string)p!).ToList(), aggregate.Participants);
        Assert.Equal((long)answer["totalSamples"]!, aggregate.TotalSamples);
        Assert.Empty(aggregate.Rejected);
        Assert.Equal(3, aggregate.Participants.Count);
        Assert.Equal(4, request.Participants.Length);

        // The same transcript with FedAdam from a given state, to a fresh Python validator: it takes the server's step on the unmasked
        // average exactly as the C# optimizer does, and signs the new state with the result.
        var optimizer = ServerOptimizer.Parse("adam", null, null);
        var parameters = aggregate.Model!.Parameters.Length;
        var start = new ServerOptimizerState([.. Enumerable.Range(0, parameters).Select(i => ((i % 7) - 3) / 100.0)], [.. Enumerable.Range(0, parameters).Select(i => (1 + (i % 5)) / 1000.0)]);
        var expected = ServerOptimization.Step(optimizer, request.Global.ToModel(), aggregate.Model, start);
        var data = Directory.CreateDirectory(Path.Combine(_root, "validator-data")).FullName;
        var (validator, endpoint) = await PythonWorkloadTests.StartAsync(python: true, "vpod-secagg-adam", data, Path.Combine(_root, "validator-keys"));
        await using (validator)
        {
            using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(60) };
            var answered = await new MetaNode.Grains.Federation.FederatedWorkloadClient(http).SecureAggregateAsync(
                endpoint, request with { ServerOptimizer = ServerOptimizerDto.From(optimizer), OptimizerState = OptimizerStateDto.From(start) });

            Assert.Equal(ModelEncoding.HashHex(expected.Model), answered.ResultHash);
            Assert.Equal(expected.Model.Parameters.ToArray(), answered.Model.Weights.Concat(answered.Model.Bias).ToArray());
            Assert.Equal(expected.State!.Momentum, answered.OptimizerState!.Momentum);
            Assert.Equal(expected.State.SecondMoment, answered.OptimizerState.SecondMoment);
            Assert.Equal(ServerOptimization.HashHex(optimizer, expected.State), answered.StateHash);
            var digest = MetaNode.Chain.RegistryTypedData.ServerStateDigest(new MetaNode.Chain.RegistryDomain(request.ChainId, request.Registry), request.Job, request.Round, answered.ResultHash, answered.StateHash!);
            Assert.Equal(answered.Signer, MetaNode.Chain.RegistryTypedData.Recover(digest, answered.StateSignature!));
        }
    }

    [Fact]
    public async Task PythonPrimitives_GiveTheCSharpBits()
    {
        var (exitCode, lines) = await RunSelfCheckAsync(["--vectors"], VectorsTimeout);
        Assert.True(exitCode == 0, $"--vectors exited {exitCode}:{Environment.NewLine}{string.Join(Environment.NewLine, lines)}");
        var v = JsonNode.Parse(string.Join("\n", lines))!;

        // Seeds.
        var seeds = v["seeds"]!;
        Assert.Equal((ulong)seeds["graph"]!, FederatedSeeds.Derive(42, "secagg-graph", 3));
        Assert.Equal((ulong)seeds["quantize"]!, FederatedSeeds.Derive(42, "secagg-quantize", 3, "vpod-a"));
        Assert.Equal((ulong)seeds["train"]!, FederatedSeeds.Training(42, 1, "vpod-a"));

        // PRG words and HKDF.
        var prgSeed = Hex((string)v["prg"]!["seed"]!);
        Assert.Equal(Uints(v["prg"]!["words"]!), MaskMath.Prg(prgSeed, 20));
        var hkdf = v["hkdf"]!;
        Assert.Equal((string)hkdf["mask"]!, FederationHashing.ToHex(MaskMath.Hkdf(Hex((string)hkdf["secret"]!), MaskMath.MaskInfo)));
        Assert.Equal((string)hkdf["share"]!, FederationHashing.ToHex(MaskMath.Hkdf(Hex((string)hkdf["secret"]!), MaskMath.ShareInfo)));

        // P-256: the public key of a scalar and the shared X coordinate.
        var ecdh = v["ecdh"]!;
        Assert.Equal((string)ecdh["peer"]!, FederationHashing.ToHex(P256Keys.PublicOf(Scalar(2))));
        Assert.Equal((string)ecdh["shared"]!, FederationHashing.ToHex(P256Keys.SharedSecret(Scalar((int)ecdh["secret"]!), P256Keys.PublicOf(Scalar(2)))));

        // Neighbour graphs: the neighbourhood size and every vPod's neighbourhood.
        foreach (var (size, graphNode) in v["graphs"]!.AsObject())
        {
            var n = int.Parse(size, System.Globalization.CultureInfo.InvariantCulture);
            var ids = Enumerable.Range(0, n).Select(i => $"p{i:D4}").ToList();
            var graph = new NeighbourGraph(ids, 42, 3);
            Assert.Equal((int)graphNode!["d"]!, graph.Size);
            var neighbours = graphNode["neighbours"]!.AsArray();
            for (var i = 0; i < n; i++)
            {
                Assert.Equal(neighbours[i]!.AsArray().Select(x => (int)x!).ToList(), graph.Neighbourhood(ids[i]).Select(id => graph.Index[id]).ToList());
            }
        }

        // Quantization and dequantization, bit for bit.
        var q = v["quantize"]!;
        var weight = MaskMath.Weight((long)q["samples"]!, (long)q["maxSamples"]!);
        var quantized = MaskMath.Quantize(Doubles(q["update"]!), Doubles(q["global"]!), weight,
            FederatedSeeds.Derive((ulong)q["seed"]!, "secagg-quantize", (int)q["round"]!, (string)q["vpodId"]!));
        Assert.Equal(Uints(q["quantized"]!), quantized);
        var dq = v["dequantize"]!;
        var model = MaskMath.Dequantize(Uints(dq["sum"]!), Doubles(dq["global"]!), (int)dq["survivors"]!, (double)dq["weightSum"]!);
        Assert.Equal(Doubles(dq["model"]!).Select(BitConverter.DoubleToInt64Bits), model.Select(BitConverter.DoubleToInt64Bits));

        // The masked update's encoding hash.
        var encoding = v["maskedEncoding"]!;
        Assert.Equal((string)encoding["hash"]!, SecAggEncoding.MaskedHashHex(Uints(encoding["masked"]!), (long)encoding["maxSamples"]!,
            encoding["maskedWith"]!.AsArray().Select(x => (string)x!).ToList()));

        // Typed digests.
        var typed = v["typed"]!;
        var chainId = (long)typed["chainId"]!;
        var job = (string)typed["job"]!;
        var round = (int)typed["round"]!;
        var vpod = (string)typed["vpod"]!;
        Assert.Equal((string)typed["cipherKey"]!, FederationHashing.ToHex(P256Keys.PublicOf(Scalar(1))));
        Assert.Equal((string)typed["keysDigest"]!, FederationHashing.ToHex(SecAggEncoding.KeysDigest(chainId, job, round, vpod,
            Hex((string)typed["cipherKey"]!), Hex((string)typed["maskKey"]!))));
        var survivors = typed["survivors"]!.AsArray().Select(x => (string)x!).ToList();
        Assert.Equal((string)typed["survivorsHash"]!, FederationHashing.ToHex(SecAggEncoding.SurvivorsHash(survivors)));
        Assert.Equal((string)typed["survivorsDigest"]!, FederationHashing.ToHex(SecAggEncoding.SurvivorsDigest(chainId, job, round, vpod, survivors)));
        var shares = typed["shares"]!.AsArray()
            .Select(s => new RevealedShare((string)s!["peer"]!, SecAggEncoding.ParseKind((string)s["kind"]!)!.Value, Hex((string)s["share"]!))).ToList();
        Assert.Equal((string)typed["sharesHash"]!, FederationHashing.ToHex(SecAggEncoding.SharesHash(shares)));
        Assert.Equal((string)typed["revealDigest"]!, FederationHashing.ToHex(SecAggEncoding.RevealDigest(chainId, job, round, vpod, shares)));

        // Shamir: three of four shares of a fixed polynomial give its secret; a constant of 2^300 is no secret.
        var shamir = v["shamir"]!;
        var threshold = (int)shamir["threshold"]!;
        var all = Shares(shamir["shares"]!);
        Assert.Equal((string)shamir["secret"]!, FederationHashing.ToHex(ShamirSharing.Combine(all, threshold)!));
        Assert.Equal((string)shamir["secret"]!, FederationHashing.ToHex(ShamirSharing.Combine(all.Where(s => s.Key != 1).ToDictionary(), threshold)!));
        Assert.Null((string?)shamir["noSecret"]!["secret"]);
        Assert.Null(ShamirSharing.Combine(Shares(shamir["noSecret"]!["shares"]!), threshold));
    }

    private async Task<(int ExitCode, List<string> Lines)> RunSelfCheckAsync(IReadOnlyList<string> arguments, TimeSpan timeout)
    {
        Assert.True(File.Exists(SelfCheckScript), $"The self-check was not copied beside the tests: {SelfCheckScript}.");
        Assert.True(File.Exists(WorkloadProcess.PythonInterpreter), $"{WorkloadProcess.PythonInterpreter} is missing.");
        await using var process = WorkloadProcess.StartProgram(WorkloadProcess.PythonInterpreter, ["-u", SelfCheckScript, .. arguments],
            AppContext.BaseDirectory, new Dictionary<string, string?>());
        // WaitForExitAsync returns once the process has exited and its redirected output has reached its end.
        var exitCode = await process.WaitForExitAsync(timeout);
        var lines = process.Lines.ToList();
        foreach (var line in lines.Where(l => exitCode != 0 || l.StartsWith("ok", StringComparison.Ordinal) || l.StartsWith("FAIL", StringComparison.Ordinal)
            || l.StartsWith("passed", StringComparison.Ordinal) || l.StartsWith("FAILED", StringComparison.Ordinal)))
        {
            output.WriteLine(line);
        }

        return (exitCode, lines);
    }

    private static byte[] Hex(string hex) => Convert.FromHexString(hex.AsSpan(2));

    private static byte[] Scalar(int value)
    {
        var bytes = new byte[32];
        bytes[31] = (byte)value;
        return bytes;
    }

    private static uint[] Uints(JsonNode node) => [.. node.AsArray().Select(x => (uint)x!)];

    private static double[] Doubles(JsonNode node) => [.. node.AsArray().Select(x => (double)x!)];

    private static Dictionary<int, byte[]> Shares(JsonNode node) =>
        node.AsObject().ToDictionary(p => int.Parse(p.Key, System.Globalization.CultureInfo.InvariantCulture), p => Hex((string)p.Value!));
}

using MetaNode.Federation;
using MetaNode.Federation.SecureAggregation;
using MetaNode.Tests.Infrastructure;
using MetaNode.VPods;
using Xunit.Abstractions;

namespace MetaNode.Tests.Jobs;

/// <summary>One anvil and one silo: 4 compute vPods running the C# workload and 2 running the Python one, 3 validators, a registry of threshold 2.</summary>
public sealed class SecureAggregationJobFixture : IAsyncLifetime
{
    public const string CSharpCluster = "sa-csharp";
    public const string PythonCluster = "sa-python";
    public const string ValidatorCluster = "sa-validators";

    private readonly AnvilFixture _anvil = new();
    private JobCluster? _cluster;

    internal JobCluster Cluster => _cluster!;

    public IReadOnlyList<string> CSharp { get; private set; } = [];

    public IReadOnlyList<string> Python { get; private set; } = [];

    public IReadOnlyList<string> Compute => [.. CSharp.Concat(Python).Order(StringComparer.Ordinal)];

    public async Task InitializeAsync()
    {
        await _anvil.InitializeAsync();
        _cluster = await JobCluster.StartAsync(_anvil);
        var csharp = _cluster.DeployClusterAsync(CSharpCluster, 4, VPodType.Compute);
        var python = _cluster.DeployClusterAsync(PythonCluster, 2, VPodType.Compute, command: [MetaNode.Tests.Workload.WorkloadProcess.PythonInterpreter, MixedWorkloadJobFixture.PythonWorkload], ports: [0]);
        var validators = _cluster.DeployClusterAsync(ValidatorCluster, 3, VPodType.Validator);
        CSharp = await csharp;
        Python = await python;
        await validators;
        await _cluster.DeployRegistryAsync(threshold: 2);
    }

    public async Task DisposeAsync()
    {
        if (_cluster is not null)
        {
            await _cluster.DisposeAsync();
        }

        await _anvil.DisposeAsync();
    }
}

/// <summary>Secure aggregation end to end: a real silo drives C# and Python compute workloads; validators unmask, sign and finalize on anvil.</summary>
public sealed class SecureAggregationJobTests(SecureAggregationJobFixture fixture, ITestOutputHelper output) : IClassFixture<SecureAggregationJobFixture>
{
    private JobCluster Cluster => fixture.Cluster;

    private static FederatedJobSpec Spec(FederatedAlgorithm algorithm, int rounds, int? threshold = null) => new()
    {
        Algorithm = algorithm,
        ComputeCluster = $"{SecureAggregationJobFixture.CSharpCluster},{SecureAggregationJobFixture.PythonCluster}",
        ValidatorCluster = SecureAggregationJobFixture.ValidatorCluster,
        Dataset = "digits",
        Rounds = rounds,
        Quorum = 2,
        SecurityThreshold = threshold,
        RoundDeadline = TimeSpan.FromSeconds(30),
    };

    private void Report(FederatedJobStatus status)
    {
        output.WriteLine($"{status.JobId} {status.Spec?.Algorithm}: {status.Phase} {status.Reason}");
        foreach (var (result, timing) in status.Results.Zip(status.Timings))
        {
            output.WriteLine($"  round {result.Round}: {result.Participants.Count} participants, accuracy {result.Accuracy:F4}, {timing.TotalMs:F0} ms (training {timing.SlowestTrainingMs:F0} ms), result {result.ResultHash}");
        }
    }

    [Fact]
    public async Task SecureJob_FinalizesEveryRound_WithinTheQuantizationErrorOfFedAvg_AndReruns_GiveTheSameBytes()
    {
        var plain = await Cluster.RunAsync(FederatedJobTests.NewJobId(), Spec(FederatedAlgorithm.FederatedAverage, 3), TimeSpan.FromSeconds(120));
        var secure = await Cluster.RunAsync(FederatedJobTests.NewJobId(), Spec(FederatedAlgorithm.SecureAggregation, 3), TimeSpan.FromSeconds(120));
        var again = await Cluster.RunAsync(FederatedJobTests.NewJobId(), Spec(FederatedAlgorithm.SecureAggregation, 3), TimeSpan.FromSeconds(120));
        Report(plain);
        Report(secure);
        Assert.Equal(FederatedJobPhase.Completed, plain.Phase);
        Assert.Equal(FederatedJobPhase.Completed, secure.Phase);
        Assert.Equal(FederatedJobPhase.Completed, again.Phase);
        foreach (var result in secure.Results)
        {
            Assert.Equal(fixture.Compute, result.Participants);
            Assert.Empty(result.Rejected);
            var onChain = await Cluster.Chain.GetRoundAsync(secure.JobId, result.Round);
            Assert.True(onChain.Finalized && onChain.Verified, $"round {result.Round} is not verified on chain");
            Assert.Equal(result.ResultHash, onChain.ResultHash);

            // The round keeps the receipts its root covers: each signed by its vPod, over the masked vector the validators saw.
            Assert.Equal(fixture.Compute, result.Receipts.Select(r => r.VPodId));
            Assert.Equal(result.ReceiptsRoot, ReceiptMerkleTree.RootHex(result.Receipts.Select(ReceiptHashing.HashHex)), ignoreCase: true);
            var addresses = await Task.WhenAll(result.Receipts.Select(async r => (await Cluster.Grains.GetGrain<IVPodGrain>(r.VPodId).GetStatusAsync()).Address!));
            Assert.All(result.Receipts.Zip(addresses), x => Assert.True(MetaNode.Chain.VPodTypedData.ReceiptSignedBy(x.First, 31337, x.Second), x.First.VPodId));
        }

        // Fresh keys and masks each run, yet the unmasked sum is exact: the same seed gives the same model bytes.
        Assert.Equal(secure.Results.Select(r => r.ResultHash), again.Results.Select(r => r.ResultHash));

        // Round 1 starts from the same model: the secure aggregate is FedAvg up to each participant's rounding step.
        var plainModel = ModelEncoding.Decode((await Cluster.Grains.GetGrain<IFederatedJobGrain>(plain.JobId).GetModelAsync(1))!).Parameters;
        var secureModel = ModelEncoding.Decode((await Cluster.Grains.GetGrain<IFederatedJobGrain>(secure.JobId).GetModelAsync(1))!).Parameters;
        var worst = plainModel.Zip(secureModel, (p, s) => Math.Abs(p - s)).Max();
        output.WriteLine($"round 1: largest coordinate difference {worst:E3}; accuracy plain {plain.FinalAccuracy:F4}, secure {secure.FinalAccuracy:F4}");
        Assert.True(worst > 0, "the secure model is bit-identical to FedAvg: nothing was quantized");
        // Each of the n participants rounds by less than 1/scale after its weight w ≤ 1, and the sum is divided by Σw ≥ n·min(w); 6/(scale·Σw) bounds it.
        Assert.True(worst < 6 / (SecAggParameters.Scale * 1.0), $"round 1 differs from FedAvg by {worst}");
        Assert.InRange(secure.FinalAccuracy ?? 0, (plain.FinalAccuracy ?? 1) - 0.01, (plain.FinalAccuracy ?? 0) + 0.01);
    }

    [Fact]
    public async Task ComputeVPodsKilledAfterMasking_UpToNMinusT_DoNotStopTheJob_AndOneMoreAbortsTheRoundNamingT()
    {
        // n = 6, t = 4. Round 1: two vPods (one C#, one Python) die after their masked updates arrived; the round still sums all six.
        // Rounds 2 and 3 go on with the four left.
        var killed = new[] { fixture.CSharp[0], fixture.Python[0] };
        try
        {
            Cluster.Faults.BeforeUnmasking = async (job, round) =>
            {
                if (round == 1)
                {
                    await StopAsync(killed);
                }
            };
            var status = await Cluster.RunAsync(FederatedJobTests.NewJobId(), Spec(FederatedAlgorithm.SecureAggregation, 3), TimeSpan.FromSeconds(150));
            Report(status);
            Assert.Equal(FederatedJobPhase.Completed, status.Phase);
            Assert.Equal(fixture.Compute, status.Results[0].Participants);
            Assert.All(status.Results.Skip(1), r => Assert.Equal(fixture.Compute.Except(killed), r.Participants));
        }
        finally
        {
            Cluster.Faults.BeforeUnmasking = null;
            await StartAsync(killed);
        }

        // Three (n − t + 1) die after masking: too few are left to rebuild their self-masks.
        var three = new[] { fixture.CSharp[0], fixture.CSharp[1], fixture.Python[1] };
        try
        {
            Cluster.Faults.BeforeUnmasking = (_, _) => StopAsync(three);
            var failed = await Cluster.RunAsync(FederatedJobTests.NewJobId(), Spec(FederatedAlgorithm.SecureAggregation, 2), TimeSpan.FromSeconds(120));
            Report(failed);
            Assert.Equal(FederatedJobPhase.Failed, failed.Phase);
            Assert.Contains("t=4", failed.Reason, StringComparison.Ordinal);
            Assert.Empty(failed.Results);
        }
        finally
        {
            Cluster.Faults.BeforeUnmasking = null;
            await StartAsync(three);
        }
    }

    [Fact]
    public async Task AJob_ThatConflictsWithTheGroupOrItsOptions_IsRefused_AndNothingIsRecorded()
    {
        async Task<string> Refused(FederatedJobSpec spec)
        {
            var id = FederatedJobTests.NewJobId();
            var error = await Assert.ThrowsAsync<InvalidJobSpecException>(() => Cluster.Grains.GetGrain<IFederatedJobGrain>(id).StartAsync(spec));
            await Assert.ThrowsAsync<JobNotFoundException>(() => Cluster.Grains.GetGrain<IFederatedJobGrain>(id).GetStatusAsync());
            return error.Message;
        }

        Assert.Contains("use 4 (a majority", await Refused(Spec(FederatedAlgorithm.SecureAggregation, 1, threshold: 3)), StringComparison.Ordinal);
        Assert.Contains("to 6", await Refused(Spec(FederatedAlgorithm.SecureAggregation, 1, threshold: 7)), StringComparison.Ordinal);
        Assert.Contains("cannot be used with secure-aggregation", await Refused(Spec(FederatedAlgorithm.SecureAggregation, 1) with { Robust = AggregationRule.Median }), StringComparison.Ordinal);
        Assert.Contains("encryption is not available with federated-average", await Refused(Spec(FederatedAlgorithm.FederatedAverage, 1) with { Encryption = true }), StringComparison.Ordinal);
        Assert.Contains("applies only to secure-aggregation", await Refused(Spec(FederatedAlgorithm.FederatedAverage, 1, threshold: 4)), StringComparison.Ordinal);
    }

    private async Task StopAsync(IEnumerable<string> ids)
    {
        foreach (var id in ids)
        {
            await Cluster.Grains.GetGrain<IVPodGrain>(id).StopAsync(new StopOptions(Force: true));
        }
    }

    private async Task StartAsync(IEnumerable<string> ids)
    {
        foreach (var id in ids)
        {
            await Cluster.Grains.GetGrain<IVPodGrain>(id).StartAsync();
            await Eventually.WaitAsync(() => Cluster.Grains.GetGrain<IVPodGrain>(id).GetStatusAsync(), s => s.Phase == VPodPhase.Running && s.Health == VPodHealth.Healthy, $"{id} running again", TimeSpan.FromSeconds(60));
        }
    }
}

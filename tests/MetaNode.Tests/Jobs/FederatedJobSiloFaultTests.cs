using MetaNode.Chain;
using MetaNode.Client;
using MetaNode.Clusters;
using MetaNode.Federation;
using MetaNode.Tests.Infrastructure;
using MetaNode.VPods;
using Nethereum.Hex.HexConvertors.Extensions;
using Xunit.Abstractions;

namespace MetaNode.Tests.Jobs;

/// <summary>
/// A silo killed mid-round on the cluster profile (PostgreSQL): the job resumes on the survivor from its persisted state — with FedAdam,
/// whose moments carry from round to round, so a resumed job that lost or reset them would end on another model.
/// </summary>
[Collection(PostgresCollection.Name)]
public sealed class FederatedJobSiloFaultTests(PostgresServer postgres, ITestOutputHelper output) : IAsyncLifetime
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), "metanode-job-silo", Guid.NewGuid().ToString("N")[..10]);
    private readonly AnvilFixture _anvil = new();
    private readonly List<SiloProcess> _silos = [];

    public Task InitializeAsync() => _anvil.InitializeAsync();

    public async Task DisposeAsync()
    {
        foreach (var silo in _silos)
        {
            await silo.DisposeAsync();
        }

        SiloProcess.KillWorkloadsUnder(_root);
        await _anvil.DisposeAsync();
        try
        {
            Directory.Delete(_root, recursive: true);
        }
        catch (IOException)
        {
            // A file still held open by an exiting process: the temporary directory is left for the OS to clean.
        }
    }

    [Fact]
    public async Task Run_GivesTheSameModelBytesAndOneFinalizationPerRound_WhenASiloIsKilledMidRound()
    {
        var database = await postgres.CreateDatabaseAsync("jobs_" + Guid.NewGuid().ToString("N")[..10]);
        var key = await _anvil.FundedKeyAsync();
        var tls = ClusterTls.Create(Path.Combine(_root, "tls"));
        string[] settings =
        [
            "--MetaNode:Profile=Cluster",
            $"--MetaNode:Database:ConnectionString={database}",
            .. tls.Settings,
            $"--MetaNode:Chain:RpcUrl={_anvil.RpcUrl}",
            "--MetaNode:Chain:ChainId=31337",
            $"--MetaNode:Chain:AccountPrivateKey={key.GetPrivateKeyAsBytes().ToHex(prefix: true)}",
            "--MetaNode:Chain:KeystorePassword=job-silo-fault-test",

            "--MetaNode:Chain:ReceiptPollInterval=00:00:00.050",
            $"--MetaNode:Runtime:Process:DataDirectory={Path.Combine(_root, "vpods")}",
            "--MetaNode:VPods:ProbeInterval=00:00:00.500",
            "--MetaNode:Capacity:Cpu=64",
            "--MetaNode:VPods:RestartBackoffInitial=00:00:00.200",
            "--MetaNode:VPods:OrphanStopTimeout=00:00:01",
            "--MetaNode:Membership:ProbeTimeout=00:00:01",
            "--MetaNode:Membership:NumMissedProbesLimit=2",
            "--MetaNode:Membership:NumVotesForDeathDeclaration=1",
            "--MetaNode:Membership:TableRefreshTimeout=00:00:02",
            "--MetaNode:Membership:IAmAliveTablePublishTimeout=00:00:02",
            "--MetaNode:Federation:Jobs:PumpInterval=00:00:00.200",
            "--MetaNode:Federation:Jobs:RedispatchInterval=00:00:03",

            // Every finalized round but the last moves to the job's history at once: the silo killed mid-round leaves a job
            // whose earlier rounds are only in history pages, and its successor must list them all.
            "--MetaNode:Federation:Jobs:HistoryPageRounds=1",
        ];
        var a = new SiloProcess(Path.Combine(_root, "a"), settings);
        var b = new SiloProcess(Path.Combine(_root, "b"), settings);
        _silos.Add(a);
        _silos.Add(b);
        await a.StartAsync();
        await b.StartAsync();

        await using var client = await MetaNodeClient.ConnectAsync(new MetaNodeClientOptions { ConnectionString = database, Identity = tls.AdminIdentity });
        await client.DeployClusterAsync(new ClusterSpec { Name = "pg-compute", Count = 4, MemberType = VPodType.Compute, CpuMillis = 1000, MemoryBytes = 200L << 20 });
        await client.DeployClusterAsync(new ClusterSpec { Name = "pg-validators", Count = 3, MemberType = VPodType.Validator, CpuMillis = 1000, MemoryBytes = 200L << 20 });
        foreach (var (name, count) in new[] { ("pg-compute", 4), ("pg-validators", 3) })
        {
            await Eventually.WaitAsync(() => client.GetClusterStatusAsync(name), s => s.Members.Count(m => m.Phase == VPodPhase.Running && m.Health == VPodHealth.Healthy) == count, $"{count} healthy members of {name}", TimeSpan.FromSeconds(120));
        }

        var registry = (await client.DeployRegistryAsync(new DeployRegistryCommand { Threshold = 2 })).Registry!;
        var spec = FederatedJobTests.Spec(rounds: 4, minParticipants: 4) with
        {
            ComputeCluster = "pg-compute",
            ValidatorCluster = "pg-validators",
            Partition = PartitionScheme.Iid,
            RoundDeadline = TimeSpan.FromMinutes(2),
            ServerOptimizer = ServerOptimizer.Parse("adam", null, null),
        };

        var reference = await RunAsync(client, FederatedJobTests.NewJobId(), spec, killAtRound: null);
        var faulted = await RunAsync(client, FederatedJobTests.NewJobId(), spec, killAtRound: 2);

        Assert.Equal(FederatedJobPhase.Completed, reference.Status.Phase);
        Assert.Equal(FederatedJobPhase.Completed, faulted.Status.Phase);
        Assert.Equal(reference.Model, faulted.Model);
        Assert.Equal([1, 2, 3, 4], faulted.Status.Results.Select(r => r.Round));
        Assert.Equal([1, 2, 3, 4], faulted.Status.Timings.Select(t => t.Round));
        Assert.Equal(reference.Status.Results.Select(r => r.ResultHash), faulted.Status.Results.Select(r => r.ResultHash));
        Assert.Equal(reference.Status.Results.Select(r => r.StateHash), faulted.Status.Results.Select(r => r.StateHash));
        Assert.All(faulted.Status.Results, r => Assert.NotNull(r.StateHash));

        // Exactly one RoundFinalized event per round of the faulted job, each matching the job's result.
        var logs = await AnvilNode.RpcAsync(_anvil.RpcUrl, "eth_getLogs", new Dictionary<string, object> { ["address"] = registry, ["fromBlock"] = "0x0", ["toBlock"] = "latest" });
        var jobTopic = "0x" + Convert.ToHexStringLower(System.Text.Encoding.UTF8.GetBytes(faulted.Status.JobId).Concat(new byte[32]).Take(32).ToArray());
        var rounds = logs.EnumerateArray()
            .Select(l => l.GetProperty("topics").EnumerateArray().Select(t => t.GetString()!).ToList())
            .Where(t => t.Count == 3 && t[1] == jobTopic)
            .Select(t => Convert.ToInt64(t[2], 16))
            .Order()
            .ToList();
        Assert.Equal([1L, 2L, 3L, 4L], rounds);
        foreach (var result in faulted.Status.Results)
        {
            var onChain = await Retry(() => client.GetRoundAsync(faulted.Status.JobId, result.Round));
            Assert.True(onChain.Verified);
            Assert.Equal(result.ResultHash, onChain.ResultHash);
        }
    }

    /// <summary>Until membership declares a killed silo dead, a call may still be routed to it; a retry then succeeds.</summary>
    private static Task<T> Retry<T>(Func<Task<T>> call) => Eventually.WaitAsync(call, _ => true, "a call after the silo kill", TimeSpan.FromSeconds(60));

    private async Task<(FederatedJobStatus Status, byte[]? Model)> RunAsync(MetaNodeClient client, string jobId, FederatedJobSpec spec, int? killAtRound)
    {
        await client.StartJobAsync(spec, jobId);
        if (killAtRound is { } round)
        {
            await Eventually.WaitAsync(() => client.GetJobStatusAsync(jobId), s => (s.Round >= round && s.Phase == FederatedJobPhase.Training) || s.IsFinished, $"job {jobId} training round {round}", TimeSpan.FromMinutes(2));

            // Kill the silo that hosts the job grain itself (kill -9), in the middle of the round.
            var host = await client.GrainFactory.GetGrain<IManagementGrain>(0).GetActivationAddress(client.GrainFactory.GetGrain<IFederatedJobGrain>(jobId));
            var victim = _silos.Single(s => host is null ? s == _silos[0] : s.SiloPort == host.Endpoint.Port);
            output.WriteLine($"killing silo on port {victim.SiloPort} (job grain on {host}) in round {(await client.GetJobStatusAsync(jobId)).Round}");
            await victim.KillAsync();
        }

        var status = await Eventually.WaitAsync(() => client.GetJobStatusAsync(jobId), s => s.IsFinished, $"job {jobId} to finish", TimeSpan.FromMinutes(4));
        output.WriteLine($"job {jobId}: {status.Phase} {status.Reason}; rounds {string.Join(", ", status.Results.Select(r => $"{r.Round}:{r.Accuracy:F4}:{r.Participants.Count}"))}");
        var model = await Retry(() => client.GrainFactory.GetGrain<IFederatedJobGrain>(jobId).GetModelAsync(spec.Rounds));
        return (status, model);
    }
}

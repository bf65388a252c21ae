using System.Text.Json;
using MetaNode.Cli;
using MetaNode.Clusters;
using MetaNode.VPods;

namespace MetaNode.Tests.Cli;

/// <summary><c>cluster ...</c> against a fake client: flags become the spec, bad flags fail before connecting, JSON carries leader and term.</summary>
public sealed class ClusterCommandsTests
{
    private readonly CliRunner _cli = new();

    [Fact]
    public async Task Deploy_TurnsEveryDeploymentOptionIntoTheSpec()
    {
        var result = await _cli.RunAsync(
            "cluster", "deploy", "--name", "fl", "--count", "5", "--type", "compute", "--cpu", "250m", "--memory", "64Mi",
            "--command", "python3 worker.py", "--env", "EPOCHS=2", "--port", "0", "--port", "9000", "--restart-policy", "always", "--replicas", "2", "--high-availability",
            "--persistent-storage", "1Gi", "--network-policy", "deny-all", "--ingress-from", "metanode.cluster=fl", "--egress-to", "10.0.0.0/8",
            "--algorithm", "secure-aggregation", "--security-threshold", "3", "--encryption",
            "--quota-cpu", "2", "--quota-memory", "1Gi", "--max-members", "8", "--output", "json");

        Assert.True(result.ExitCode == ExitCodes.Success, result.ToString());
        var spec = _cli.Client.DeployedCluster!;
        Assert.Equal(("fl", 5, VPodType.Compute, 250L, 64L << 20), (spec.Name, spec.Count, spec.MemberType, spec.CpuMillis, spec.MemoryBytes));
        Assert.Equal(["python3", "worker.py"], spec.Command);
        Assert.Equal("2", spec.Env["EPOCHS"]);
        Assert.Equal([0, 9000], spec.Ports);
        Assert.Equal((RestartPolicy.Always, 2, true, 1L << 30), (spec.RestartPolicy, spec.Replicas, spec.HighAvailability, spec.PersistentStorage!.SizeBytes));
        Assert.Equal(["metanode.cluster=fl"], spec.NetworkPolicy!.IngressFrom);
        Assert.Equal(["10.0.0.0/8"], spec.NetworkPolicy.EgressTo);
        Assert.Equal((AggregationAlgorithm.SecureAggregation, 3, true), (spec.Algorithm, spec.SecurityThreshold, spec.EncryptionEnabled));
        Assert.Equal(new ClusterQuota { CpuMillis = 2000, MemoryBytes = 1L << 30, MaxMembers = 8 }, spec.Quota);

        using var json = JsonDocument.Parse(result.Stdout);
        Assert.Equal("vpod-fl-0", json.RootElement.GetProperty("leader").GetString());
        Assert.Equal(1, json.RootElement.GetProperty("term").GetInt64());
    }

    [Theory]
    [InlineData("--algorithm: invalid value 'gossip'", "--algorithm", "gossip")]
    [InlineData("security threshold '9'", "--algorithm", "secure-aggregation", "--security-threshold", "9")]
    [InlineData("--quota-cpu: Invalid cpu 'lots'", "--quota-cpu", "lots")]
    [InlineData("--network-policy: invalid value 'allow-all'", "--network-policy", "allow-all")]
    public async Task Deploy_FailsWithAUsageError_BeforeConnecting_WhenAFlagIsBad(string expected, params string[] flags)
    {
        var result = await _cli.RunAsync(["cluster", "deploy", "--name", "c1", "--count", "3", "--type", "compute", .. flags]);

        Assert.Equal(ExitCodes.UsageError, result.ExitCode);
        Assert.Contains(expected, result.Stderr, StringComparison.Ordinal);
        Assert.Null(_cli.Client.DeployedCluster);
        Assert.Empty(_cli.Connections);
    }

    [Fact]
    public async Task StatusScaleListAndDelete_ReachTheClient()
    {
        await _cli.RunAsync("cluster", "deploy", "--name", "c1", "--count", "3", "--type", "orchestrator");

        var status = await _cli.RunAsync("cluster", "status", "--name", "c1");
        Assert.True(status.ExitCode == ExitCodes.Success, status.ToString());
        Assert.Contains("vpod-c1-0 (term 1", status.Stdout, StringComparison.Ordinal);

        Assert.Equal(ExitCodes.Success, (await _cli.RunAsync("cluster", "scale", "--name", "c1", "--count", "4")).ExitCode);
        Assert.Equal(("c1", 4), _cli.Client.LastScale);
        Assert.Contains("c1", (await _cli.RunAsync("cluster", "list")).Stdout, StringComparison.Ordinal);
        Assert.Equal(ExitCodes.Success, (await _cli.RunAsync("cluster", "delete", "--name", "c1")).ExitCode);

        var missing = await _cli.RunAsync("cluster", "status", "--name", "c1");
        Assert.Equal(ExitCodes.OperationFailed, missing.ExitCode);
        Assert.Contains("cluster 'c1' does not exist", missing.Stderr, StringComparison.Ordinal);
        Assert.Equal(ExitCodes.UsageError, (await _cli.RunAsync("cluster", "status", "--name", "Bad_Name")).ExitCode);
    }

    [Fact]
    public async Task Reconcile_ReportsTheRejection_WhenTheTermIsStale()
    {
        await _cli.RunAsync("cluster", "deploy", "--name", "c1", "--count", "3", "--type", "orchestrator");
        _cli.Client.Clusters["c1"] = _cli.Client.Clusters["c1"] with { Term = 4 };

        var result = await _cli.RunAsync("cluster", "reconcile", "--name", "c1", "--term", "3", "--leader", "vpod-c1-0");
        Assert.Equal(ExitCodes.OperationFailed, result.ExitCode);
        Assert.Contains("rejected a command from leader term 3: term 4 is current", result.Stderr, StringComparison.Ordinal);
    }
}

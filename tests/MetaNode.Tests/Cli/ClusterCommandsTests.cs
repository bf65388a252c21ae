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
            "--deployment-method", "kubernetes", "--image", "metanode/compute-vpod:latest",
            "--command", "python3 worker.py", "--env", "EPOCHS=2", "--port", "9000", "--restart-policy", "always", "--replicas", "2", "--high-availability",
            "--storage", "1Gi:fast-ssd", "--storage-mount", "/var/lib/fl",
            "--network-policy", "deny-all", "--network-policy", "ingress:metanode.cluster=fl", "--network-policy", "egress:10.0.0.0/8",
            "--algorithm", "secure-aggregation", "--security-threshold", "3", "--encryption",
            "--quota-cpu", "2", "--quota-memory", "1Gi", "--max-members", "8", "--output", "json");

        Assert.True(result.ExitCode == ExitCodes.Success, result.ToString());
        var spec = _cli.Client.DeployedCluster!;
        Assert.Equal(("fl", 5, VPodType.Compute, 250L, 64L << 20), (spec.Name, spec.Count, spec.MemberType, spec.CpuMillis, spec.MemoryBytes));
        Assert.Equal((DeploymentMethod.Kubernetes, "metanode/compute-vpod:latest"), (spec.DeploymentMethod, spec.Image));
        Assert.Equal(["python3", "worker.py"], spec.Command);
        Assert.Equal("2", spec.Env["EPOCHS"]);
        Assert.Equal([9000], spec.Ports);
        Assert.Equal((RestartPolicy.Always, 2, true), (spec.RestartPolicy, spec.Replicas, spec.HighAvailability));
        Assert.Equal(new StorageRequest(1L << 30, "fast-ssd", "/var/lib/fl"), spec.PersistentStorage);
        Assert.True(spec.NetworkPolicy!.Enabled);
        Assert.Equal(["metanode.cluster=fl"], spec.NetworkPolicy.IngressFrom);
        Assert.Equal(["10.0.0.0/8"], spec.NetworkPolicy.EgressTo);
        Assert.Equal((AggregationAlgorithm.SecureAggregation, 3, true), (spec.Algorithm, spec.SecurityThreshold, spec.EncryptionEnabled));
        Assert.Equal(new ClusterQuota { CpuMillis = 2000, MemoryBytes = 1L << 30, MaxMembers = 8 }, spec.Quota);
        Assert.Empty(ClusterSpecValidation.Validate(spec));

        using var json = JsonDocument.Parse(result.Stdout);
        Assert.Equal("vpod-fl-0", json.RootElement.GetProperty("leader").GetString());
        Assert.Equal(1, json.RootElement.GetProperty("term").GetInt64());
        var storage = json.RootElement.GetProperty("spec").GetProperty("persistentStorage");
        Assert.Equal((1L << 30, "fast-ssd", "/var/lib/fl"), (storage.GetProperty("sizeBytes").GetInt64(), storage.GetProperty("storageClass").GetString(), storage.GetProperty("mountPath").GetString()));
        var policy = json.RootElement.GetProperty("spec").GetProperty("networkPolicy");
        Assert.True(policy.GetProperty("enabled").GetBoolean());
        Assert.Equal(["metanode.cluster=fl"], policy.GetProperty("ingressFrom").EnumerateArray().Select(e => e.GetString()));
        Assert.Equal(["10.0.0.0/8"], policy.GetProperty("egressTo").EnumerateArray().Select(e => e.GetString()));
    }

    [Fact]
    public async Task Deploy_MakesADenyAllPolicyAndDefaultMount_WhenOnlyDenyAllAndASizeAreGiven()
    {
        var result = await _cli.RunAsync("cluster", "deploy", "--name", "sealed", "--count", "2", "--type", "compute",
            "--deployment-method", "kubernetes", "--image", "i:1", "--storage", "64Mi", "--network-policy", "deny-all");

        Assert.True(result.ExitCode == ExitCodes.Success, result.ToString());
        var spec = _cli.Client.DeployedCluster!;
        Assert.Equal(new StorageRequest(64L << 20, null, "/vpod/data"), spec.PersistentStorage);
        Assert.True(spec.NetworkPolicy!.Enabled);
        Assert.Empty(spec.NetworkPolicy.IngressFrom);
        Assert.Empty(spec.NetworkPolicy.EgressTo);

        var status = await _cli.RunAsync("cluster", "status", "--name", "sealed");
        Assert.True(status.ExitCode == ExitCodes.Success, status.ToString());
        Assert.Contains("64Mi at /vpod/data per member", status.Stdout, StringComparison.Ordinal);
        Assert.Contains("ingress from [], egress to []", status.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Deploy_LeavesStorageAndPolicyUnset_WhenTheirFlagsAreAbsent()
    {
        var result = await _cli.RunAsync("cluster", "deploy", "--name", "plain", "--count", "2", "--type", "compute");

        Assert.True(result.ExitCode == ExitCodes.Success, result.ToString());
        var spec = _cli.Client.DeployedCluster!;
        Assert.Null(spec.PersistentStorage);
        Assert.Null(spec.NetworkPolicy);
        Assert.Equal((1, false), (spec.Replicas, spec.HighAvailability));
    }

    [Theory]
    [InlineData("--algorithm: invalid value 'gossip'", "--algorithm", "gossip")]
    [InlineData("security threshold '9'", "--algorithm", "secure-aggregation", "--security-threshold", "9")]
    [InlineData("--quota-cpu: Invalid cpu 'lots'", "--quota-cpu", "lots")]
    [InlineData("--network-policy: invalid value 'allow-all'", "--deployment-method", "kubernetes", "--image", "i:1", "--network-policy", "allow-all")]
    [InlineData("--network-policy: invalid value 'egress:chain.local:8545'", "--deployment-method", "kubernetes", "--image", "i:1", "--network-policy", "egress:chain.local:8545")]
    [InlineData("--network-policy: invalid value 'ingress:novalue'", "--deployment-method", "kubernetes", "--image", "i:1", "--network-policy", "ingress:novalue")]
    [InlineData("--network-policy: only the kubernetes deployment method enforces network policies", "--network-policy", "deny-all")]
    [InlineData("--network-policy: only the kubernetes deployment method enforces network policies", "--deployment-method", "docker", "--image", "i:1", "--network-policy", "egress:10.0.0.0/8")]
    [InlineData("--storage: invalid value 'lots'", "--storage", "lots")]
    [InlineData("--storage: invalid value '1Mi'", "--storage", "1Mi")]
    [InlineData("--storage: invalid value '10Gi:Fast SSD'", "--storage", "10Gi:Fast SSD")]
    [InlineData("--storage-mount: invalid value 'data'", "--storage", "1Gi", "--storage-mount", "data")]
    [InlineData("--storage-mount: give --storage SIZE[:CLASS] too", "--storage-mount", "/data")]
    [InlineData("--replicas: invalid value '0'", "--replicas", "0")]
    public async Task Deploy_FailsWithAUsageError_BeforeConnecting_WhenAFlagIsBad(string expected, params string[] flags)
    {
        var result = await _cli.RunAsync(["cluster", "deploy", "--name", "c1", "--count", "3", "--type", "compute", .. flags]);

        Assert.Equal(ExitCodes.UsageError, result.ExitCode);
        Assert.Contains(expected, Assert.Single(result.ErrorLines), StringComparison.Ordinal);
        Assert.Null(_cli.Client.DeployedCluster);
        Assert.Empty(_cli.Connections);
    }

    [Theory]
    [InlineData("--persistent-storage", "1Gi")]
    [InlineData("--ingress-from", "app=web")]
    [InlineData("--egress-to", "10.0.0.0/8")]
    public async Task Deploy_RefusesTheRemovedPolicyFlags(string flag, string value)
    {
        var result = await _cli.RunAsync("cluster", "deploy", "--name", "c1", "--count", "3", "--type", "compute",
            "--deployment-method", "kubernetes", "--image", "i:1", flag, value);

        Assert.Equal(ExitCodes.UsageError, result.ExitCode);
        Assert.Contains(flag, result.Stderr, StringComparison.Ordinal);
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

using MetaNode.Cli;
using MetaNode.VPods;

namespace MetaNode.Tests.Cli;

/// <summary>
/// <c>vpod create</c> and <c>cluster deploy</c> take the same storage, network-policy, replicas and high-availability flags:
/// the same arguments give the same <see cref="StorageRequest"/> and <see cref="NetworkPolicySpec"/>, and the same bad
/// arguments the same error.
/// </summary>
public sealed class WorkloadFlagsParityTests
{
    private static readonly string[] Kubernetes = ["--deployment-method", "kubernetes", "--image", "metanode/compute-vpod:latest"];

    public static TheoryData<string[]> ValidArguments => new()
    {
        { [.. Kubernetes, "--storage", "10Gi"] },
        { [.. Kubernetes, "--storage", "10Gi:fast-ssd", "--storage-mount", "/var/lib/vpod"] },
        { [.. Kubernetes, "--network-policy", "deny-all"] },
        { [.. Kubernetes, "--storage", "512Mi", "--network-policy", "ingress:role=validator", "--network-policy", "ingress:app=web,tier=front",
            "--network-policy", "egress:10.0.0.0/8", "--network-policy", "egress:192.0.2.10:8545", "--network-policy", "egress:[2001:db8::1]:443",
            "--replicas", "3", "--high-availability"] },
        { ["--deployment-method", "docker", "--image", "metanode/compute-vpod:latest", "--storage", "1Gi:local"] },
        { ["--storage", "64Mi", "--storage-mount", "/data"] },
        { [.. Kubernetes] },
    };

    public static TheoryData<string[]> InvalidArguments => new()
    {
        { ["--storage", "lots"] },
        { ["--storage", "10Gi:a:b"] },
        { ["--storage-mount", "/data"] },
        { ["--storage", "1Gi", "--storage-mount", "relative"] },
        { [.. Kubernetes, "--network-policy", "allow-all"] },
        { [.. Kubernetes, "--network-policy", "egress:chain.local:8545"] },
        { [.. Kubernetes, "--network-policy", "ingress:a=b,a=c"] },
        { [.. Kubernetes, "--network-policy", "egress:10.0.0.0/8", "--network-policy", "egress:10.0.0.0/8"] },
        { ["--network-policy", "deny-all"] },
        { ["--deployment-method", "docker", "--image", "metanode/compute-vpod:latest", "--network-policy", "ingress:app=web"] },
        { ["--replicas", "101"] },
    };

    [Theory]
    [MemberData(nameof(ValidArguments))]
    public async Task SameArguments_GiveEqualStorageAndPolicy_ForVPodCreateAndClusterDeploy(string[] arguments)
    {
        var vpodCli = new CliRunner();
        var clusterCli = new CliRunner();

        var created = await vpodCli.RunAsync(["vpod", "create", "--name", "w1", "--type", "compute", "--cpu", "1", "--memory", "64Mi", .. arguments]);
        var deployed = await clusterCli.RunAsync(["cluster", "deploy", "--name", "w1", "--count", "2", "--type", "compute", "--cpu", "1", "--memory", "64Mi", .. arguments]);

        Assert.True(created.ExitCode == ExitCodes.Success, created.ToString());
        Assert.True(deployed.ExitCode == ExitCodes.Success, deployed.ToString());
        var vpod = vpodCli.Client.DeployedSpec!;
        var cluster = clusterCli.Client.DeployedCluster!;
        Assert.Equal(vpod.PersistentStorage, cluster.PersistentStorage);
        AssertSamePolicy(vpod.NetworkPolicy, cluster.NetworkPolicy);
        Assert.Equal((vpod.Replicas, vpod.HighAvailability), (cluster.Replicas, cluster.HighAvailability));

        // What the cluster hands each member is what vpod create would have asked for.
        var member = MetaNode.Clusters.ClusterSpecValidation.MemberSpec(cluster, 1);
        Assert.Equal(vpod.PersistentStorage, member.PersistentStorage);
        AssertSamePolicy(vpod.NetworkPolicy, member.NetworkPolicy);
    }

    [Theory]
    [MemberData(nameof(InvalidArguments))]
    public async Task SameBadArguments_GiveTheSameOneLineError_ForVPodCreateAndClusterDeploy(string[] arguments)
    {
        var vpodCli = new CliRunner();
        var clusterCli = new CliRunner();

        var created = await vpodCli.RunAsync(["vpod", "create", "--name", "w1", "--type", "compute", "--cpu", "1", "--memory", "64Mi", .. arguments]);
        var deployed = await clusterCli.RunAsync(["cluster", "deploy", "--name", "w1", "--count", "2", "--type", "compute", "--cpu", "1", "--memory", "64Mi", .. arguments]);

        Assert.Equal((ExitCodes.UsageError, ExitCodes.UsageError), (created.ExitCode, deployed.ExitCode));
        var line = Assert.Single(created.ErrorLines);
        Assert.Equal(line, Assert.Single(deployed.ErrorLines));
        Assert.StartsWith("error: --", line, StringComparison.Ordinal);
        Assert.Null(vpodCli.Client.DeployedSpec);
        Assert.Null(clusterCli.Client.DeployedCluster);
        Assert.Empty(vpodCli.Connections);
        Assert.Empty(clusterCli.Connections);
    }

    private static void AssertSamePolicy(NetworkPolicySpec? expected, NetworkPolicySpec? actual)
    {
        if (expected is null)
        {
            Assert.Null(actual);
            return;
        }

        Assert.NotNull(actual);
        Assert.Equal(expected.Enabled, actual.Enabled);
        Assert.Equal(expected.IngressFrom, actual.IngressFrom);
        Assert.Equal(expected.EgressTo, actual.EgressTo);
    }
}

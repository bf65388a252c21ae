using MetaNode.Tests.Infrastructure;
using MetaNode.VPods;

namespace MetaNode.Tests.Jobs;

/// <summary>
/// One anvil, one silo, 10 compute and 3 validator process vPods running the reference workload, and a registry whose
/// validators are the 3 validator vPods (threshold 2), shared by the job tests; each test runs its own job.
/// </summary>
public sealed class FederatedJobFixture : IAsyncLifetime
{
    public const int ComputeCount = 10;
    public const int ValidatorCount = 3;
    public const string ComputeCluster = "fl-compute";
    public const string ValidatorCluster = "fl-validators";

    private readonly AnvilFixture _anvil = new();

    public string RpcUrl => _anvil.RpcUrl;
    private JobCluster? _cluster;

    internal JobCluster Cluster => _cluster!;

    public IReadOnlyList<string> Compute { get; private set; } = [];

    public IReadOnlyList<string> Validators { get; private set; } = [];

    public string Registry { get; private set; } = string.Empty;

    public async Task InitializeAsync()
    {
        await _anvil.InitializeAsync();
        _cluster = await JobCluster.StartAsync(_anvil);
        var compute = _cluster.DeployClusterAsync(ComputeCluster, ComputeCount, VPodType.Compute);
        var validators = _cluster.DeployClusterAsync(ValidatorCluster, ValidatorCount, VPodType.Validator);
        Compute = await compute;
        Validators = await validators;
        Registry = await _cluster.DeployRegistryAsync(threshold: 2);
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

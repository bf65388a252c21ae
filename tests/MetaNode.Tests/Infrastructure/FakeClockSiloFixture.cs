using Microsoft.Extensions.Time.Testing;
using Orleans.TestingHost;

namespace MetaNode.Tests.Infrastructure;

/// <summary>
/// One in-process silo with the MetaNode services whose clock is a <see cref="FakeTimeProvider"/>: a test moves time by hand,
/// so leases, backoffs and deadlines expire exactly when it says and never because the machine was slow.
/// </summary>
public sealed class FakeClockSiloFixture : IAsyncLifetime
{
    public static readonly TimeSpan LeaseTtl = TimeSpan.FromMilliseconds(1500);
    public static readonly TimeSpan RenewalPeriod = TimeSpan.FromMilliseconds(250);
    public static readonly TimeSpan MaxClockSkew = TimeSpan.FromMilliseconds(250);

    public FakeTimeProvider Time { get; } = new(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));

    public string DataDirectory { get; } = Path.Combine(Path.GetTempPath(), "metanode-tests", "fake-clock-" + Guid.NewGuid().ToString("N")[..12]);

    public InProcessTestCluster Cluster { get; private set; } = null!;

    public IGrainFactory Grains => Cluster.Client;

    public async Task InitializeAsync() => Cluster = await new TestSiloBuilder()
        .WithSettings(TestSiloBuilder.FastVPods)
        .WithSettings(new Dictionary<string, string?>
        {
            ["MetaNode:Orchestration:LeaseTtl"] = LeaseTtl.ToString(),
            ["MetaNode:Orchestration:RenewalPeriod"] = RenewalPeriod.ToString(),
            ["MetaNode:Orchestration:MaxClockSkew"] = MaxClockSkew.ToString(),
        })
        .WithMetaNode(DataDirectory)
        .WithTime(Time)
        .StartAsync();

    public Task DisposeAsync() => TestSiloBuilder.StopAsync(Cluster, DataDirectory);
}

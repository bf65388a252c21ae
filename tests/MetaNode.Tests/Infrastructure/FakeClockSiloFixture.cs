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

    /// <summary>Far longer than a probe interval: the clock moves by probe intervals until a crash is seen, never by a whole backoff.</summary>
    public static readonly TimeSpan RestartBackoffInitial = TimeSpan.FromSeconds(10);
    public static readonly TimeSpan RestartBackoffCap = TimeSpan.FromSeconds(40);

    public FakeTimeProvider Time { get; } = new(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));

    public string DataDirectory { get; } = Path.Combine(Path.GetTempPath(), "metanode-tests", "fake-clock-" + Guid.NewGuid().ToString("N")[..12]);

    public InProcessTestCluster Cluster { get; private set; } = null!;

    public IGrainFactory Grains => Cluster.Client;

    /// <summary>
    /// Moves the clock one probe interval at a time (the silo's probes and timers run on it) until <paramref name="condition"/>
    /// holds; the real-time limit only keeps a test from hanging.
    /// </summary>
    public async Task<T> AdvanceUntilAsync<T>(Func<Task<T>> probe, Func<T, bool> condition, string what)
    {
        var step = TimeSpan.Parse(TestSiloBuilder.FastVPods["MetaNode:VPods:ProbeInterval"]!, System.Globalization.CultureInfo.InvariantCulture);
        return await Eventually.WaitAsync(
            async () =>
            {
                var value = await probe();
                if (!condition(value))
                {
                    Time.Advance(step);
                }

                return value;
            },
            condition,
            what);
    }

    public async Task InitializeAsync() => Cluster = await new TestSiloBuilder()
        .WithSettings(TestSiloBuilder.FastVPods)
        .WithSettings(new Dictionary<string, string?>
        {
            ["MetaNode:Orchestration:LeaseTtl"] = LeaseTtl.ToString(),
            ["MetaNode:Orchestration:RenewalPeriod"] = RenewalPeriod.ToString(),
            ["MetaNode:Orchestration:MaxClockSkew"] = MaxClockSkew.ToString(),
            ["MetaNode:VPods:RestartBackoffInitial"] = RestartBackoffInitial.ToString(),
            ["MetaNode:VPods:RestartBackoffCap"] = RestartBackoffCap.ToString(),
        })
        .WithMetaNode(DataDirectory)
        .WithTime(Time)
        .StartAsync();

    public Task DisposeAsync() => TestSiloBuilder.StopAsync(Cluster, DataDirectory);
}

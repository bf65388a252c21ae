using MetaNode.Security;
using MetaNode.Clusters;
using Orleans.Concurrency;

namespace MetaNode.Orchestration;

/// <summary>The lease as its grain last recorded it. <see cref="Term"/> only ever grows.</summary>
[GenerateSerializer, Immutable, Alias("MetaNode.Orchestration.LeaseSnapshot")]
public sealed record LeaseSnapshot
{
    [Id(0)] public string? Holder { get; init; }
    [Id(1)] public long Term { get; init; }
    [Id(2)] public DateTimeOffset ExpiresAt { get; init; }
    [Id(3)] public DateTimeOffset AcquiredAt { get; init; }
    /// <summary>The lease's time-to-live: a holder that does not renew within it loses the lease.</summary>
    [Id(4)] public TimeSpan Ttl { get; init; }
    /// <summary>The holder's agent activation: a vPod whose agent moved to another silo is a new candidate and gets a new term.</summary>
    [Id(5)] public string? HolderInstance { get; init; }
    /// <summary>The silo the holder's agent runs on.</summary>
    [Id(6)] public string? HolderSilo { get; init; }
}

/// <summary>The answer to a campaign: whether the candidate holds the lease now, and the lease as it stands.</summary>
[GenerateSerializer, Immutable, Alias("MetaNode.Orchestration.LeaseGrant")]
public sealed record LeaseGrant(
    [property: Id(0)] bool Granted,
    [property: Id(1)] LeaseSnapshot Lease);

/// <summary>
/// A leader lease for one scope (a cluster name): term number, holder, expiry. Candidates campaign and holders renew
/// through <see cref="AcquireOrRenewAsync"/>; the decision is <c>LeaderElection.Decide</c>, a pure function. The term is
/// persisted before a new holder is told it leads, so it never goes backwards, not even after a silo loss.
/// </summary>
[Alias("MetaNode.Orchestration.ILeaderLeaseGrain")]
[SiloOnly]
public interface ILeaderLeaseGrain : IGrainWithStringKey
{
    /// <param name="candidate">The orchestrator vPod id.</param>
    /// <param name="instance">Identifies the campaigning agent activation; only the same instance renews.</param>
    /// <param name="silo">The silo the agent runs on, for status.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    [Alias("AcquireOrRenew")]
    Task<LeaseGrant> AcquireOrRenewAsync(string candidate, string instance, string silo, CancellationToken cancellationToken = default);

    /// <summary>Gives the lease up so another candidate can take it at once; ignored unless <paramref name="candidate"/> holds <paramref name="term"/>.</summary>
    [Alias("Release")]
    Task<LeaseSnapshot> ReleaseAsync(string candidate, long term, string reason, CancellationToken cancellationToken = default);

    [Alias("Get"), AlwaysInterleave]
    Task<LeaseSnapshot> GetAsync(CancellationToken cancellationToken = default);

    /// <summary>The most recent leader changes, oldest first.</summary>
    [Alias("GetHistory"), AlwaysInterleave]
    Task<IReadOnlyList<LeaderChange>> GetHistoryAsync(CancellationToken cancellationToken = default);
}

/// <summary>
/// The election agent of one orchestrator vPod (key: the vPod id), on the silo that hosts the vPod. A grain timer campaigns
/// for or renews the cluster's lease while the vPod runs; as leader it sends fenced reconciliation commands to the cluster.
/// </summary>
[Alias("MetaNode.Orchestration.IOrchestratorGrain")]
[SiloOnly]
public interface IOrchestratorGrain : IGrainWithStringKey
{
    /// <summary>Starts campaigning for <paramref name="cluster"/> if not already.</summary>
    [Alias("Ensure")]
    Task EnsureStartedAsync(string cluster, CancellationToken cancellationToken = default);

    /// <summary>Stops campaigning, gives the lease up if held, and deactivates.</summary>
    [Alias("StandDown")]
    Task StandDownAsync(string reason, CancellationToken cancellationToken = default);
}

/// <summary>Stream namespace of leader changes (provider <c>metanode</c>, stream key: the cluster name).</summary>
public static class OrchestrationStreams
{
    public const string LeaderChanges = "metanode.leader-changes";
}

using System.Globalization;
using MetaNode.Clusters;
using MetaNode.Grains.Hosting;
using MetaNode.Orchestration;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace MetaNode.Grains.Orchestration;

[GenerateSerializer, Alias("MetaNode.Orchestration.LeaderLeaseState")]
public sealed class LeaderLeaseState
{
    [Id(0)] public LeaseSnapshot Lease { get; set; } = new();
    [Id(1)] public List<LeaderChange> History { get; set; } = [];
}

/// <summary>
/// One leader lease (key: the scope, a cluster name). Every new term is persisted before the new holder hears of it, so terms
/// never go backwards; renewals only move the expiry in memory, and a new activation gives a held lease a full TTL
/// (<see cref="LeaderElection.Recover"/>), so a lease grain that moved never hands a live leader's lease to another. Leader changes are logged, kept in a short history and
/// published on the <see cref="OrchestrationStreams.LeaderChanges"/> stream.
/// </summary>
[GrainType("leader-lease")]
public sealed partial class LeaderLeaseGrain(
    [PersistentState("lease", MetaNodeNames.VPodStorage)] IPersistentState<LeaderLeaseState> state,
    IOptions<OrchestrationOptions> options,
    TimeProvider time,
    MetaNodeMetrics metrics,
    ILogger<LeaderLeaseGrain> logger) : Grain, ILeaderLeaseGrain
{
    private readonly OrchestrationOptions _options = options.Value;

    // The stored expiry was written by another activation, perhaps on another silo whose clock differs: until this
    // activation records an expiry itself, a takeover waits MaxClockSkew more.
    private bool _sameClock;

    private string Scope => this.GetPrimaryKeyString();

    public override Task OnActivateAsync(CancellationToken cancellationToken)
    {
        // Renewals were never written: the stored expiry is the last acquisition's. The holder may have renewed since, so
        // it keeps the lease for a full TTL from now unless it stops renewing (in memory only, like a renewal).
        state.State.Lease = LeaderElection.Recover(state.State.Lease, time.GetUtcNow(), _options.LeaseTtl);
        Observe(state.State.Lease);
        return Task.CompletedTask;
    }

    public override Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken)
    {
        metrics.LeaseLeft(Scope);
        return Task.CompletedTask;
    }

    public async Task<LeaseGrant> AcquireOrRenewAsync(string candidate, string instance, string silo, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(candidate);
        ArgumentException.ThrowIfNullOrEmpty(instance);
        var now = time.GetUtcNow();
        var previous = state.State.Lease;
        var decision = LeaderElection.Decide(previous, candidate, now, _options.LeaseTtl, _sameClock ? TimeSpan.Zero : _options.MaxClockSkew, instance);
        decision = decision with { Lease = decision.Lease with { HolderSilo = decision.Outcome == LeaseOutcome.Held ? previous.HolderSilo : silo } };
        switch (decision.Outcome)
        {
            case LeaseOutcome.Acquired:
                var reason = previous.Holder is null ? "lease was free"
                    : previous.Holder == candidate && previous.HolderInstance == instance ? "own lease had expired"
                    : previous.Holder == candidate ? $"its agent moved to {silo}; the lease it held expired at {previous.ExpiresAt:O}"
                    : $"lease of {previous.Holder} expired at {previous.ExpiresAt:O}";
                await RecordChangeAsync(decision.Lease, previous.Holder, reason, cancellationToken);
                _sameClock = true;
                metrics.LeaderChanged(Scope);
                Observe(decision.Lease);
                LogAcquired(logger, Scope, candidate, decision.Lease.Term, reason);
                return new LeaseGrant(true, decision.Lease);
            case LeaseOutcome.Renewed:
                state.State.Lease = decision.Lease;
                _sameClock = true;
                Observe(decision.Lease);
                return new LeaseGrant(true, decision.Lease);
            default:
                return new LeaseGrant(false, previous);
        }
    }

    public async Task<LeaseSnapshot> ReleaseAsync(string candidate, long term, string reason, CancellationToken cancellationToken = default)
    {
        var previous = state.State.Lease;
        var released = LeaderElection.Release(previous, candidate, term, time.GetUtcNow());
        if (released != previous)
        {
            await RecordChangeAsync(released, previous.Holder, reason, cancellationToken);
            _sameClock = true;
            Observe(released);
            LogReleased(logger, Scope, candidate, term, reason);
        }

        return released;
    }

    public Task<LeaseSnapshot> GetAsync(CancellationToken cancellationToken = default) => Task.FromResult(state.State.Lease);

    public Task<IReadOnlyList<LeaderChange>> GetHistoryAsync(CancellationToken cancellationToken = default) =>
        Task.FromResult<IReadOnlyList<LeaderChange>>(state.State.History.ToArray());

    private void Observe(LeaseSnapshot lease)
    {
        if (lease.Term > 0)
        {
            metrics.LeaseObserved(Scope, lease.Term, lease.Holder is null ? null : lease.ExpiresAt);
        }
    }

    private async Task RecordChangeAsync(LeaseSnapshot lease, string? previousHolder, string reason, CancellationToken cancellationToken)
    {
        var change = new LeaderChange
        {
            EventId = $"{Scope}/{lease.Term.ToString(CultureInfo.InvariantCulture)}/{(lease.Holder is null ? "released" : "acquired")}",
            Scope = Scope,
            Leader = lease.Holder,
            PreviousLeader = previousHolder,
            Term = lease.Term,
            At = time.GetUtcNow(),
            Reason = reason,
        };
        state.State.Lease = lease;
        state.State.History.Add(change);
        if (state.State.History.Count > _options.HistoryLength)
        {
            state.State.History.RemoveRange(0, state.State.History.Count - _options.HistoryLength);
        }

        // Persist before anyone is told: a term once granted is never granted again.
        await state.WriteStateAsync(cancellationToken);
        try
        {
            var stream = this.GetStreamProvider(MetaNodeNames.StreamProvider).GetStream<LeaderChange>(StreamId.Create(OrchestrationStreams.LeaderChanges, Scope));
            await stream.OnNextAsync(change);
        }
        catch (Exception exception) when (exception is not OperationCanceledException)
        {
            // The stream is a notification; the lease and its history are the record.
            LogPublishFailed(logger, exception, Scope, lease.Term);
        }
    }
}

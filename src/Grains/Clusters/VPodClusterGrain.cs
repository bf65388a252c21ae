using MetaNode.Clusters;
using MetaNode.Federation.SecureAggregation;
using MetaNode.Grains.Hosting;
using MetaNode.Grains.Orchestration;
using MetaNode.Grains.Runtime;
using MetaNode.Orchestration;
using MetaNode.Placement;
using MetaNode.VPods;
using Microsoft.Extensions.Logging;

namespace MetaNode.Grains.Clusters;

/// <summary>
/// A vPod cluster (key: its name). Deploy and scale record the desired state, then converge; a leader's fenced
/// <see cref="ReconcileAsync"/> converges again on every tick: <see cref="ClusterPlanner"/> decides, this grain applies.
/// Members are <c>vpod-{cluster}-{ordinal}</c>; a retried deploy re-uses the recorded ordinals, so it never duplicates one.
/// </summary>
[GrainType("vpod-cluster")]
public sealed partial class VPodClusterGrain(
    [PersistentState("cluster", MetaNodeNames.VPodStorage)] IPersistentState<VPodClusterState> state,
    TimeProvider time,
    IVPodRuntimeResolver runtimes,
    MetaNodeMetrics metrics,
    ILogger<VPodClusterGrain> logger) : Grain, IVPodClusterGrain
{
    public override Task OnActivateAsync(CancellationToken cancellationToken)
    {
        if (Exists)
        {
            metrics.ClusterDesired(Name, State.Desired);
        }

        return Task.CompletedTask;
    }

    public override Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken)
    {
        metrics.ClusterLeft(Name);
        return Task.CompletedTask;
    }

    private string Name => this.GetPrimaryKeyString();

    private VPodClusterState State => state.State;

    private bool Exists => State.Spec is not null && State.Phase is not (ClusterPhase.None or ClusterPhase.Deleted);

    private ClusterSpec Spec => State.Spec ?? throw new ClusterNotFoundException(Name);

    private IPlacementLedgerGrain Ledger => GrainFactory.GetGrain<IPlacementLedgerGrain>(PlacementLedgerKeys.Default);

    public async Task<ClusterStatus> DeployAsync(ClusterSpec spec, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(spec);
        if (spec.Name != Name)
        {
            throw new InvalidClusterSpecException($"name '{spec.Name}' does not match the cluster '{Name}' it was sent to.");
        }

        spec = ClusterSpecs.Normalize(spec);
        ClusterSpecValidation.ThrowIfInvalid(spec);
        ValidateMembersForRuntime(spec);
        if (ClusterSpecValidation.CheckQuota(spec, spec.Count) is { } quotaProblem)
        {
            throw new ClusterQuotaExceededException(Name, quotaProblem);
        }

        if (Exists)
        {
            if (State.Phase == ClusterPhase.Deleting)
            {
                throw new InvalidClusterSpecException($"cluster '{Name}' is being deleted; deploy it again once the delete finished.");
            }

            if (!ClusterSpecs.Same(State.Spec!, spec))
            {
                throw new InvalidClusterSpecException($"cluster '{Name}' already exists with a different spec: change its size with 'cluster scale', or delete it first.");
            }
        }
        else
        {
            var now = time.GetUtcNow();
            State.Spec = spec;
            State.Desired = spec.Count;
            State.Phase = ClusterPhase.Deploying;
            State.CreatedAt = now;
            State.UpdatedAt = now;
            State.Members.Clear();
            await PersistAsync(cancellationToken);
            LogDeployed(logger, Name, spec.Count, spec.MemberType);
        }

        await ReconcileCoreAsync(cancellationToken);
        return await GetStatusAsync(cancellationToken);
    }

    public async Task<ClusterStatus> ScaleAsync(int count, CancellationToken cancellationToken = default)
    {
        EnsureExists();
        if (State.Phase == ClusterPhase.Deleting)
        {
            throw new InvalidClusterSpecException($"cluster '{Name}' is being deleted and cannot be scaled.");
        }

        if (count is < 0 or > ClusterSpecValidation.MaxCount)
        {
            throw new InvalidClusterSpecException($"count '{count}' is invalid: use 0-{ClusterSpecValidation.MaxCount}.");
        }

        if (Spec.SecurityThreshold is { } threshold && count > 0 && SecAggParameters.ThresholdProblem(threshold, count) is { } problem)
        {
            throw new InvalidClusterSpecException($"count '{count}' does not fit the cluster's security threshold: {problem}");
        }

        var scaled = Spec with { Count = count };
        if (ClusterSpecValidation.CheckQuota(scaled, count) is { } quotaProblem)
        {
            throw new ClusterQuotaExceededException(Name, quotaProblem);
        }

        if (count != State.Desired)
        {
            LogScaled(logger, Name, State.Desired, count);
            State.Spec = scaled;
            State.Desired = count;
            await PersistAsync(cancellationToken);
        }

        await ReconcileCoreAsync(cancellationToken);
        return await GetStatusAsync(cancellationToken);
    }

    public async Task<ClusterStatus> DeleteAsync(CancellationToken cancellationToken = default)
    {
        EnsureExists();
        State.Phase = ClusterPhase.Deleting;
        await PersistAsync(cancellationToken);
        await ForEachAsync(State.Members.Where(m => m.Created).ToList(), (m, ct) => DeleteMemberAsync(m.Ordinal, ct), cancellationToken);
        var status = await GetStatusAsync(cancellationToken);
        State.Members.Clear();
        State.Desired = 0;
        State.Phase = ClusterPhase.Deleted;
        ForgetObservations();
        State.UpdatedAt = time.GetUtcNow();
        await state.WriteStateAsync(cancellationToken);
        metrics.ClusterDeleted(Name);
        await GrainFactory.GetGrain<IVPodClusterRegistryGrain>(ClusterRegistryKeys.Default).RemoveAsync(Name, cancellationToken);
        LogDeleted(logger, Name);
        return status with { Phase = ClusterPhase.Deleted, Desired = 0, Members = [], Running = 0, Failed = 0, Pending = 0 };
    }

    public async Task<ClusterStatus> ReconcileAsync(LeaderCommand command, CancellationToken cancellationToken = default)
    {
        await ReconcileAsLeaderAsync(command, cancellationToken);
        return await GetStatusAsync(cancellationToken);
    }

    public async Task ReconcileAsLeaderAsync(LeaderCommand command, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(command);
        EnsureExists();
        if (command.Term < State.FencingTerm)
        {
            LogStaleCommand(logger, Name, command.Leader, command.Term, State.FencingTerm);
            throw new StaleLeaderTermException($"cluster {Name}", command.Term, State.FencingTerm);
        }

        if (command.Term > State.FencingTerm)
        {
            // Only a term the cluster's lease issued, to that leader, may move the fence.
            var lease = GrainFactory.GetGrain<ILeaderLeaseGrain>(Name);
            var current = await lease.GetAsync(cancellationToken);
            var issued = (current.Term == command.Term && current.Holder == command.Leader) ||
                (current.Term >= command.Term && (await lease.GetHistoryAsync(cancellationToken)).Any(c => c.Term == command.Term && c.Leader == command.Leader));
            if (!issued)
            {
                LogUnissuedTerm(logger, Name, command.Leader, command.Term, current.Term);
                throw new UnissuedLeaderTermException($"cluster {Name}", command.Leader, command.Term);
            }

            LogLeaderAccepted(logger, Name, command.Leader, command.Term, State.FencingLeader, State.FencingTerm);
            State.FencingTerm = command.Term;
            State.FencingLeader = command.Leader;
            await state.WriteStateAsync(cancellationToken);
        }

        if (State.Phase != ClusterPhase.Deleting)
        {
            await ReconcileCoreAsync(cancellationToken);
        }
    }

    public async Task<ClusterStatus> GetStatusAsync(CancellationToken cancellationToken = default)
    {
        EnsureExists();
        var spec = Spec;
        var records = State.Members.OrderBy(m => m.Ordinal).Select(m => (m.Ordinal, m.Created, m.PendingReason)).ToList();
        var placements = (await Ledger.ListAsync(null, cancellationToken)).Where(r => r.Request.Cluster == Name).ToDictionary(r => r.Request.VPodId, r => r.Silo.ToString());
        LeaseSnapshot? lease = null;
        IReadOnlyList<LeaderChange> history = [];
        if (spec.MemberType == VPodType.Orchestrator)
        {
            var leaseGrain = GrainFactory.GetGrain<ILeaderLeaseGrain>(Name);
            lease = await leaseGrain.GetAsync(cancellationToken);
            history = await leaseGrain.GetHistoryAsync(cancellationToken);
        }

        var leader = lease is not null && LeaderElection.IsHeld(lease, time.GetUtcNow()) ? lease.Holder : null;
        var members = new ClusterMemberStatus[records.Count];
        await ForEachAsync(Enumerable.Range(0, records.Count).ToList(), async (i, ct) =>
        {
            var (ordinal, created, pendingReason) = records[i];
            var id = ClusterSpecValidation.MemberId(Name, ordinal);
            var member = new ClusterMemberStatus
            {
                Id = id,
                Name = ClusterSpecValidation.MemberName(Name, ordinal),
                Ordinal = ordinal,
                Phase = VPodPhase.Pending,
                Reason = pendingReason ?? "not created yet",
                Silo = placements.GetValueOrDefault(id),
                IsLeader = id == leader,
            };
            if (created)
            {
                try
                {
                    var grain = GrainFactory.GetGrain<IVPodGrain>(id);
                    var vpod = await grain.GetStatusAsync(ct);
                    var host = await GrainFactory.GetGrain<IManagementGrain>(0).GetActivationAddress(grain);
                    member = member with { Phase = vpod.Phase, Health = vpod.Health, RestartCount = vpod.RestartCount, Reason = vpod.Reason, Silo = host?.ToString() ?? member.Silo };
                    Observed(ordinal, vpod);
                }
                catch (VPodNotFoundException)
                {
                    member = member with { Phase = VPodPhase.None, Reason = "its vPod does not exist" };
                    Observed(ordinal, null);
                }
            }

            members[i] = member;
        }, cancellationToken);

        var phase = ClusterSummaries.PhaseOf(State.Phase, State.Desired, members.Select(m => m.Phase).ToList(), records.Count(r => !r.Created));
        await ReportAsync(ClusterSummaries.Summary(Name, spec, State, phase), cancellationToken);
        return new ClusterStatus
        {
            Name = Name,
            Phase = phase,
            Spec = spec,
            Desired = State.Desired,
            Running = members.Count(m => m.Phase == VPodPhase.Running),
            Failed = members.Count(m => m.Phase == VPodPhase.Failed),
            Pending = members.Count(m => m.Phase is VPodPhase.Pending or VPodPhase.Provisioning or VPodPhase.Starting),
            Members = members,
            Leader = leader,
            Term = lease?.Term ?? 0,
            LeaseExpiresAt = leader is null ? null : lease!.ExpiresAt,
            LeaderSilo = leader is null ? null : lease!.HolderSilo,
            LeaderChanges = history,
            CreatedAt = State.CreatedAt,
            UpdatedAt = State.UpdatedAt,
            FencingTerm = State.FencingTerm,
            LastReconciledAt = State.LastReconciledAt,
        };
    }

    /// <summary>Observes every member, plans with <see cref="ClusterPlanner"/>, records the plan, then acts on it.</summary>
    private async Task ReconcileCoreAsync(CancellationToken cancellationToken)
    {
        var spec = Spec;
        var observations = new MemberObservation[State.Members.Count];
        var records = State.Members.ToList();
        await ForEachAsync(Enumerable.Range(0, records.Count).ToList(), async (i, ct) =>
        {
            var record = records[i];
            var status = record.Created ? await ObserveMemberAsync(record.Ordinal, ct) : null;
            observations[i] = new MemberObservation(record.Ordinal, record.Created, status?.Phase, status?.NextRestartAt is not null);
        }, cancellationToken);

        var plan = ClusterPlanner.Plan(State.Desired, observations, spec.RestartPolicy, State.NextOrdinal);
        var toCreate = new List<ClusterMemberRecord>();
        foreach (var action in plan)
        {
            switch (action.Action)
            {
                case MemberAction.Create:
                    var record = State.Members.FirstOrDefault(m => m.Ordinal == action.Ordinal);
                    if (record is null)
                    {
                        record = new ClusterMemberRecord { Ordinal = action.Ordinal };
                        State.Members.Add(record);
                        State.NextOrdinal = Math.Max(State.NextOrdinal, action.Ordinal + 1);
                    }

                    toCreate.Add(record);
                    break;
                case MemberAction.Forget:
                    LogMemberForgotten(logger, Name, ClusterSpecValidation.MemberId(Name, action.Ordinal), action.Reason);
                    State.Members.RemoveAll(m => m.Ordinal == action.Ordinal);
                    break;
            }
        }

        if (plan.Count > 0)
        {
            // The new ordinals are recorded before any vPod is created: a retry creates the same ids, never new ones.
            await PersistAsync(cancellationToken);
        }

        var deletions = plan.Where(a => a.Action == MemberAction.Delete).ToList();
        await ForEachAsync(deletions, (a, ct) => DeleteMemberAsync(a.Ordinal, ct), cancellationToken);
        State.Members.RemoveAll(m => deletions.Any(d => d.Ordinal == m.Ordinal));
        await ForEachAsync(plan.Where(a => a.Action == MemberAction.Start).ToList(), (a, ct) => StartMemberAsync(a.Ordinal, a.Reason, ct), cancellationToken);
        await CreateMembersAsync(spec, toCreate, cancellationToken);
        State.LastReconciledAt = time.GetUtcNow();
        if (plan.Count > 0)
        {
            await PersistAsync(cancellationToken);
        }

        await ReportCurrentAsync(cancellationToken);
    }

    private async Task PersistAsync(CancellationToken cancellationToken)
    {
        State.UpdatedAt = time.GetUtcNow();
        await state.WriteStateAsync(cancellationToken);
        metrics.ClusterDesired(Name, State.Desired);
        await GrainFactory.GetGrain<IVPodClusterRegistryGrain>(ClusterRegistryKeys.Default).UpsertAsync(new ClusterSummary
        {
            Name = Name,
            MemberType = Spec.MemberType,
            DeploymentMethod = Spec.DeploymentMethod,
            Desired = State.Desired,
            Phase = State.Phase,
            CreatedAt = State.CreatedAt,
        }, cancellationToken);
    }

    private void EnsureExists()
    {
        if (!Exists)
        {
            throw new ClusterNotFoundException(Name);
        }
    }
}

using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using MetaNode.Federation;
using MetaNode.VPods;

namespace MetaNode.Grains.Hosting;

/// <summary>
/// MetaNode's own metrics (meter <see cref="MeterName"/>), one set per silo. Grains report what changed; gauges are read from
/// what this silo last saw of the vPods, clusters and jobs it hosts. Exported on <c>/metrics</c> as <c>metanode_*</c>
/// (OpenTelemetry names with dots become underscores, counters gain <c>_total</c>, units in seconds gain <c>_seconds</c>).
/// </summary>
public sealed class MetaNodeMetrics : IDisposable
{
    public const string MeterName = "MetaNode";

    /// <summary>Bucket bounds in seconds for probe, stage and confirmation durations (5 ms to 2 min).</summary>
    private static readonly double[] SecondsBuckets = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120];

    private readonly Meter _meter = new(MeterName);
    private readonly TimeProvider _time;
    private readonly ConcurrentDictionary<string, VPodEntry> _vpods = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, int> _desired = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, (long Term, DateTimeOffset ExpiresAt)> _leases = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, JobGauges> _jobs = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, double> _balances = new(StringComparer.Ordinal);
    private readonly Counter<long> _restarts;
    private readonly Counter<long> _failures;
    private readonly Histogram<double> _probeDuration;
    private readonly Counter<long> _probeFailures;
    private readonly Counter<long> _leaderChanges;
    private readonly Histogram<double> _stageDuration;
    private readonly Counter<long> _rounds;
    private readonly Counter<long> _deadlineExceeded;
    private readonly Counter<long> _finalizationFailures;
    private readonly Histogram<double> _confirmation;
    private readonly Counter<long> _replacements;
    private readonly Counter<long> _transactionFailures;
    private long _watcherLag = -1;

    public MetaNodeMetrics(TimeProvider time)
    {
        _time = time;
        _meter.CreateObservableGauge("metanode.vpods", ObserveVPods, "{vpod}", "vPods hosted on this silo, by phase, type and runtime");
        _meter.CreateObservableGauge("metanode.placement.pending", () => _vpods.Values.Count(v => v.Phase is VPodPhase.Pending or VPodPhase.Provisioning), "{vpod}", "vPods on this silo waiting to be placed or provisioned");
        _restarts = _meter.CreateCounter<long>("metanode.vpod.restarts", "{restart}", "Workload restarts");
        _failures = _meter.CreateCounter<long>("metanode.vpod.failures", "{failure}", "vPods that entered the Failed phase");
        _probeDuration = _meter.CreateHistogram("metanode.vpod.probe.duration", "s", "Health probe duration", advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = SecondsBuckets });
        _probeFailures = _meter.CreateCounter<long>("metanode.vpod.probe.failures", "{probe}", "Health probes that failed or timed out");

        _meter.CreateObservableGauge("metanode.cluster.desired_members", () => _desired.Select(c => Measure(c.Value, "cluster", c.Key)), "{vpod}", "Members a cluster should have (reported by the silo hosting the cluster's grain)");
        _meter.CreateObservableGauge("metanode.cluster.running_members", ObserveRunningMembers, "{vpod}", "A cluster's members running on this silo (sum over silos for the cluster's total)");
        _meter.CreateObservableGauge("metanode.cluster.has_leader", () => _leases.Select(l => Measure(l.Value.ExpiresAt > _time.GetUtcNow() ? 1 : 0, "cluster", l.Key)), description: "1 while an orchestrator cluster's leader lease is held and unexpired, else 0");
        _meter.CreateObservableGauge("metanode.cluster.leader_term", () => _leases.Select(l => Measure(l.Value.Term, "cluster", l.Key)), description: "The orchestrator cluster's current leader term");
        _leaderChanges = _meter.CreateCounter<long>("metanode.cluster.leader_changes", "{change}", "Leader leases granted to a new term");

        _stageDuration = _meter.CreateHistogram("metanode.round.stage.duration", "s", "A finalized round's stage durations (stage=dispatch|training|collection|stream_delivery|aggregation|finalization|total)", advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = SecondsBuckets });
        _rounds = _meter.CreateCounter<long>("metanode.rounds", "{round}", "Rounds ended, by outcome (finalized, failed)");
        _deadlineExceeded = _meter.CreateCounter<long>("metanode.round.deadline_exceeded", "{round}", "Rounds whose collection ran to the deadline");
        _meter.CreateObservableGauge("metanode.job.accuracy_ratio", () => _jobs.Where(j => j.Value.Accuracy is not null).Select(j => Measure(j.Value.Accuracy!.Value, "job_id", j.Key)), description: "Test accuracy of the job's last finalized round (0-1)");
        _meter.CreateObservableGauge("metanode.job.round_participants", () => _jobs.Select(j => Measure(j.Value.Participants, "job_id", j.Key)), "{vpod}", "Participants of the job's last finalized round");

        _finalizationFailures = _meter.CreateCounter<long>("metanode.chain.finalization_failures", "{round}", "Round finalizations that failed (refused, reverted, another result on chain)");
        _confirmation = _meter.CreateHistogram("metanode.chain.confirmation.duration", "s", "From sending a transaction to its required confirmations", advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = SecondsBuckets });
        _replacements = _meter.CreateCounter<long>("metanode.chain.transaction_replacements", "{transaction}", "Stuck transactions replaced with raised fees");
        _transactionFailures = _meter.CreateCounter<long>("metanode.chain.transaction_failures", "{transaction}", "Transactions that reverted or could not be sent");
        _meter.CreateObservableGauge("metanode.chain.account.balance_ether", () => _balances.Select(b => Measure(b.Value, "address", b.Key)), description: "The silo's submitting account balance, in ether");
        _meter.CreateObservableGauge("metanode.chain.watcher.lag_blocks", () => Interlocked.Read(ref _watcherLag) is var lag and >= 0 ? [new Measurement<long>(lag)] : Array.Empty<Measurement<long>>(), description: "Blocks between the chain head and the watcher's checkpoint");
    }

    /// <summary>The phase a vPod on this silo is in now (Deleted removes it).</summary>
    public void VPodObserved(string id, VPodPhase phase, VPodType type, DeploymentMethod runtime, string? cluster)
    {
        ArgumentNullException.ThrowIfNull(id);
        if (phase is VPodPhase.Deleted or VPodPhase.None)
        {
            _vpods.TryRemove(id, out _);
            return;
        }

        var entry = new VPodEntry(phase, type.ToString().ToLowerInvariant(), RuntimeLabel(runtime), cluster);
        if (_vpods.TryGetValue(id, out var previous) && previous.Phase != VPodPhase.Failed && phase == VPodPhase.Failed)
        {
            _failures.Add(1, new KeyValuePair<string, object?>("runtime", entry.Runtime));
        }

        _vpods[id] = entry;
    }

    /// <summary>The vPod left this silo (deactivated): another silo reports it when it activates there.</summary>
    public void VPodLeft(string id) => _vpods.TryRemove(id, out _);

    public void VPodRestarted(DeploymentMethod runtime) => _restarts.Add(1, new KeyValuePair<string, object?>("runtime", RuntimeLabel(runtime)));

    public void ProbeCompleted(TimeSpan elapsed, bool healthy)
    {
        _probeDuration.Record(elapsed.TotalSeconds);
        if (!healthy)
        {
            _probeFailures.Add(1);
        }
    }

    /// <summary>How many members the cluster (whose grain this silo hosts) should have.</summary>
    public void ClusterDesired(string name, int desired) => _desired[name] = desired;

    /// <summary>The cluster's grain left this silo: the silo it activates on reports it from then on.</summary>
    public void ClusterLeft(string name) => _desired.TryRemove(name, out _);

    /// <summary>The cluster was deleted: neither its members nor its lease are reported any more.</summary>
    public void ClusterDeleted(string name)
    {
        _desired.TryRemove(name, out _);
        _leases.TryRemove(name, out _);
    }

    /// <summary>The lease's grain left this silo: an expired copy here must not read as "no leader" beside the live one.</summary>
    public void LeaseLeft(string cluster) => _leases.TryRemove(cluster, out _);

    /// <summary>The orchestrator cluster's lease as its grain holds it (an expired one counts as no leader at the next scrape).</summary>
    public void LeaseObserved(string cluster, long term, DateTimeOffset? expiresAt) =>
        _leases[cluster] = (term, expiresAt ?? DateTimeOffset.MinValue);

    public void LeaderChanged(string cluster) => _leaderChanges.Add(1, new KeyValuePair<string, object?>("cluster", cluster));

    /// <summary>A finalized round: its stage durations, participants and accuracy.</summary>
    public void RoundFinalized(string job, RoundTimings timings, int participants, double? accuracy)
    {
        ArgumentNullException.ThrowIfNull(timings);
        Stage("dispatch", timings.DispatchMs);
        Stage("training", timings.SlowestTrainingMs);
        Stage("collection", timings.CollectionMs);
        Stage("stream_delivery", timings.StreamDeliveryMs);
        Stage("aggregation", timings.AggregationMs);
        Stage("finalization", timings.FinalizationMs);
        Stage("total", timings.TotalMs);
        _rounds.Add(1, new KeyValuePair<string, object?>("outcome", "finalized"));
        _jobs[job] = new JobGauges(accuracy, participants);
    }

    public void RoundFailed() => _rounds.Add(1, new KeyValuePair<string, object?>("outcome", "failed"));

    public void RoundDeadlineExceeded() => _deadlineExceeded.Add(1);

    public void FinalizationFailed() => _finalizationFailures.Add(1);

    public void TransactionConfirmed(TimeSpan sentToConfirmed) => _confirmation.Record(sentToConfirmed.TotalSeconds);

    public void TransactionReplaced() => _replacements.Add(1);

    public void TransactionFailed() => _transactionFailures.Add(1);

    public void AccountBalance(string address, double ether) => _balances[address] = ether;

    public void WatcherLag(long blocks) => Interlocked.Exchange(ref _watcherLag, Math.Max(0, blocks));

    /// <summary>The watcher left this silo: its lag is reported by the silo it runs on now, not here.</summary>
    public void WatcherLeft() => Interlocked.Exchange(ref _watcherLag, -1);

    public void Dispose() => _meter.Dispose();

    internal static string RuntimeLabel(DeploymentMethod runtime) => runtime switch
    {
        DeploymentMethod.Process => "process",
        DeploymentMethod.Docker => "docker",
        DeploymentMethod.Kubernetes => "kubernetes",
        _ => "none",
    };

    private IEnumerable<Measurement<int>> ObserveVPods() =>
        _vpods.Values.GroupBy(v => (v.Phase, v.Type, v.Runtime)).Select(g => new Measurement<int>(
            g.Count(),
            new KeyValuePair<string, object?>("phase", g.Key.Phase.ToString()),
            new KeyValuePair<string, object?>("type", g.Key.Type),
            new KeyValuePair<string, object?>("runtime", g.Key.Runtime)));

    private IEnumerable<Measurement<int>> ObserveRunningMembers()
    {
        var running = _vpods.Values.Where(v => v.Cluster is not null).GroupBy(v => v.Cluster!, StringComparer.Ordinal)
            .ToDictionary(g => g.Key, g => g.Count(v => v.Phase == VPodPhase.Running), StringComparer.Ordinal);
        foreach (var name in _desired.Keys)
        {
            running.TryAdd(name, 0);
        }

        return running.Select(r => Measure(r.Value, "cluster", r.Key));
    }

    private void Stage(string stage, double milliseconds) =>
        _stageDuration.Record(milliseconds / 1000, new KeyValuePair<string, object?>("stage", stage));

    private static Measurement<T> Measure<T>(T value, string label, string key)
        where T : struct => new(value, new KeyValuePair<string, object?>(label, key));

    private sealed record VPodEntry(VPodPhase Phase, string Type, string Runtime, string? Cluster);

    private sealed record JobGauges(double? Accuracy, int Participants);
}

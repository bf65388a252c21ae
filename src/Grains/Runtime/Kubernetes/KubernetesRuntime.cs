// Longer than 400 lines: each IVPodRuntime operation is one short API sequence against the cluster; the objects themselves are built in KubernetesWorkloadBuilder.
using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Runtime.CompilerServices;
using System.Text.Json;
using System.Threading.Channels;
using k8s;
using k8s.Autorest;
using k8s.Models;
using MetaNode.VPods;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace MetaNode.Grains.Runtime.Kubernetes;

/// <summary>
/// Runs vPod workloads on Kubernetes. A vPod becomes a Deployment (a StatefulSet with a volumeClaimTemplate when it asks for
/// persistent storage), a Service for its ports, and, when its spec asks, a NetworkPolicy and a PodDisruptionBudget, all named
/// after the vPod id (see <see cref="KubernetesNames.ObjectName"/>) and built by <see cref="KubernetesWorkloadBuilder"/>, in the
/// vPods' own namespace (<see cref="Namespaces"/>: never the silos'). Its
/// workload's key lives on a claim that outlives the pods: a volumeClaimTemplate of the StatefulSet, or for a Deployment the
/// standalone claim <c>{name}-key</c> created here before the Deployment (and left as it is when it exists).
/// <para>
/// Provisioning creates the objects with zero replicas (a 409 Conflict means an earlier attempt made them: they are patched, never
/// duplicated); starting scales to the spec's replicas, stopping to zero. Status comes from the pods through a watch
/// (<see cref="KubernetesPodCache"/>); logs from the pod log API; usage from the metrics API when the cluster has one.
/// </para>
/// <para>
/// The client is made at first use, so a silo without a Kubernetes configuration starts; using the runtime there fails with a
/// message naming the settings to give.
/// </para>
/// </summary>
public sealed partial class KubernetesRuntime : IVPodRuntime, IAsyncDisposable
{
    private readonly KubernetesRuntimeOptions _options;
    private readonly ILogger<KubernetesRuntime> _logger;
    private readonly TimeProvider _time;
    private readonly Lazy<(IKubernetes Client, string Namespace, string SiloNamespace)> _connection;
    private readonly ConcurrentDictionary<string, KubernetesPodCache> _caches = new(StringComparer.Ordinal);

    public KubernetesRuntime(IOptions<KubernetesRuntimeOptions> options, ILogger<KubernetesRuntime> logger, TimeProvider? time = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(logger);
        _options = options.Value;
        _logger = logger;
        _time = time ?? TimeProvider.System;
        _connection = new Lazy<(IKubernetes, string, string)>(Connect, LazyThreadSafetyMode.ExecutionAndPublication);
    }

    public DeploymentMethod Method => DeploymentMethod.Kubernetes;

    /// <summary>Kubernetes keeps the workload's objects running when a silo stops; the next silo adopts them.</summary>
    public bool WorkloadsOutliveSilo => true;

    /// <summary>The namespace vPod objects go to.</summary>
    public string Namespace => _connection.Value.Namespace;

    /// <summary>The silos' namespace, whose silo pods a vPod's NetworkPolicy admits; never <see cref="Namespace"/>.</summary>
    public string SiloNamespace => _connection.Value.SiloNamespace;

    /// <summary>Refuses, without a request, a spec the workload builder would refuse: host paths, claims the vPod does not own, reserved labels, ...</summary>
    public void ValidateSpec(string vpodId, VPodSpec spec) => KubernetesWorkloadBuilder.Validate(vpodId, spec, _options);

    private IKubernetes Client => _connection.Value.Client;

    /// <summary>Whether the options name a way to reach an API server (without connecting).</summary>
    private bool IsConfigured => _connection.IsValueCreated || KubernetesConnectionResolver.Effective(_options, KubernetesClientConfiguration.IsInCluster()) is not null;

    /// <summary>How many times the pod cache of <paramref name="namespace"/> listed its pods (0 when it has not started).</summary>
    internal int PodListCount(string @namespace) => _caches.TryGetValue(@namespace, out var cache) ? cache.ListCount : 0;

    public async Task<RuntimeHandle> ProvisionAsync(string vpodId, VPodSpec spec, CancellationToken cancellationToken = default)
    {
        VPodNames.ThrowIfInvalidVPodId(vpodId, nameof(vpodId));
        var workload = Build(vpodId, spec, replicas: 0);
        var patch = Build(vpodId, spec, replicas: null);
        if (workload.Service is { } service)
        {
            await UpsertAsync(
                () => Client.CoreV1.CreateNamespacedServiceAsync(service, workload.Namespace, cancellationToken: cancellationToken),
                () => Client.CoreV1.PatchNamespacedServiceAsync(MergePatch(patch.Service!), workload.Name, workload.Namespace, cancellationToken: cancellationToken));
        }

        if (workload.NetworkPolicy is { } policy)
        {
            await UpsertAsync(
                () => Client.NetworkingV1.CreateNamespacedNetworkPolicyAsync(policy, workload.Namespace, cancellationToken: cancellationToken),
                () => Client.NetworkingV1.PatchNamespacedNetworkPolicyAsync(MergePatch(patch.NetworkPolicy!), workload.Name, workload.Namespace, cancellationToken: cancellationToken));
        }

        if (workload.DisruptionBudget is { } budget)
        {
            await UpsertAsync(
                () => Client.PolicyV1.CreateNamespacedPodDisruptionBudgetAsync(budget, workload.Namespace, cancellationToken: cancellationToken),
                () => Client.PolicyV1.PatchNamespacedPodDisruptionBudgetAsync(MergePatch(patch.DisruptionBudget!), workload.Name, workload.Namespace, cancellationToken: cancellationToken));
        }

        if (workload.KeyClaim is { } keyClaim)
        {
            // Before the Deployment, so its pods find it. A claim's spec cannot change: an existing one (the vPod's key) is kept as it is.
            await CreateUnlessExistsAsync(() => Client.CoreV1.CreateNamespacedPersistentVolumeClaimAsync(keyClaim, workload.Namespace, cancellationToken: cancellationToken));
        }

        // Created with zero replicas; an existing workload is patched without touching its replica count, so a running vPod keeps running.
        if (workload.Deployment is { } deployment)
        {
            await UpsertAsync(
                () => Client.AppsV1.CreateNamespacedDeploymentAsync(deployment, workload.Namespace, cancellationToken: cancellationToken),
                () => Client.AppsV1.PatchNamespacedDeploymentAsync(MergePatch(patch.Deployment!), workload.Name, workload.Namespace, cancellationToken: cancellationToken));
        }
        else
        {
            await UpsertAsync(
                () => Client.AppsV1.CreateNamespacedStatefulSetAsync(workload.StatefulSet!, workload.Namespace, cancellationToken: cancellationToken),
                () => Client.AppsV1.PatchNamespacedStatefulSetAsync(MergePatch(patch.StatefulSet!), workload.Name, workload.Namespace, cancellationToken: cancellationToken));
        }

        LogProvisioned(_logger, vpodId, workload.Kind, workload.Namespace, workload.Name);
        return Handle(workload, spec, default);
    }

    public async Task<RuntimeHandle> StartAsync(string vpodId, VPodSpec spec, RuntimeHandle? handle, CancellationToken cancellationToken = default)
    {
        VPodNames.ThrowIfInvalidVPodId(vpodId, nameof(vpodId));
        var workload = Build(vpodId, spec, replicas: spec.Replicas);
        if (!await ScaleAsync(workload.Kind, workload.Name, workload.Namespace, spec.Replicas, cancellationToken))
        {
            // Gone since it was provisioned (deleted from outside): make it again, then scale.
            await ProvisionAsync(vpodId, spec, cancellationToken);
            if (!await ScaleAsync(workload.Kind, workload.Name, workload.Namespace, spec.Replicas, cancellationToken))
            {
                throw new InvalidOperationException($"vPod '{vpodId}': {KindName(workload.Kind)} {workload.Namespace}/{workload.Name} disappeared while it was being started.");
            }
        }

        EnsureCache(workload.Namespace);
        LogScaled(_logger, vpodId, workload.Kind, workload.Namespace, workload.Name, spec.Replicas);
        return Handle(workload, spec, _time.GetUtcNow());
    }

    public async Task<WorkloadObservation> InspectAsync(string vpodId, RuntimeHandle handle, CancellationToken cancellationToken = default)
    {
        VPodNames.ThrowIfInvalidVPodId(vpodId, nameof(vpodId));
        ArgumentNullException.ThrowIfNull(handle);
        var (kind, name, ns) = Parse(handle);
        int? replicas;
        try
        {
            replicas = kind == KubernetesWorkloadKind.Deployment
                ? (await Client.AppsV1.ReadNamespacedDeploymentAsync(name, ns, cancellationToken: cancellationToken)).Spec?.Replicas
                : (await Client.AppsV1.ReadNamespacedStatefulSetAsync(name, ns, cancellationToken: cancellationToken)).Spec?.Replicas;
        }
        catch (HttpOperationException exception) when (exception.Response.StatusCode == HttpStatusCode.NotFound)
        {
            return WorkloadObservation.NotFound($"{KindName(kind)} {ns}/{name} does not exist");
        }

        if (replicas == 0)
        {
            return WorkloadObservation.NotFound($"{KindName(kind)} {ns}/{name} was scaled to zero outside MetaNode");
        }

        var pods = await GetPodsAsync(vpodId, ns, cancellationToken);
        return KubernetesPodStatus.Observe(pods, replicas ?? 1);
    }

    public async Task<int?> StopAsync(string vpodId, RuntimeHandle handle, TimeSpan timeout, bool force, CancellationToken cancellationToken = default)
    {
        VPodNames.ThrowIfInvalidVPodId(vpodId, nameof(vpodId));
        ArgumentNullException.ThrowIfNull(handle);
        if (string.IsNullOrEmpty(handle.Id))
        {
            return null;
        }

        var (kind, name, ns) = Parse(handle);
        if (!await ScaleAsync(kind, name, ns, 0, cancellationToken))
        {
            return null;
        }

        // Scaling down lets the controller delete the pods with their own grace; deleting them here applies the caller's timeout.
        var grace = force ? 0 : (int)Math.Ceiling(Math.Max(0, timeout.TotalSeconds));
        var pods = await Client.CoreV1.ListNamespacedPodAsync(ns, labelSelector: VPodSelector(vpodId), cancellationToken: cancellationToken);
        foreach (var pod in pods.Items)
        {
            await IgnoreNotFoundAsync(() => Client.CoreV1.DeleteNamespacedPodAsync(pod.Metadata.Name, ns, gracePeriodSeconds: grace, cancellationToken: cancellationToken));
            if (_caches.TryGetValue(ns, out var cache))
            {
                cache.Forget(pod.Metadata.Name);
            }
        }

        LogStopped(_logger, vpodId, kind, ns, name, pods.Items.Count, grace);
        return null;
    }

    public async Task RemoveAsync(string vpodId, RuntimeHandle? handle, CancellationToken cancellationToken = default)
    {
        VPodNames.ThrowIfInvalidVPodId(vpodId, nameof(vpodId));
        if (handle is null && !IsConfigured)
        {
            // Nothing was ever made here: a vPod whose provisioning failed for want of a configuration can still be deleted.
            return;
        }

        var name = KubernetesNames.ObjectName(vpodId);
        var ns = handle is { Node.Length: > 0 } ? handle.Node : Namespace;
        var delete = new V1DeleteOptions { PropagationPolicy = _options.DeletePropagation.ToString() };
        await IgnoreNotFoundAsync(() => Client.AppsV1.DeleteNamespacedDeploymentAsync(name, ns, delete, propagationPolicy: delete.PropagationPolicy, cancellationToken: cancellationToken));
        await IgnoreNotFoundAsync(() => Client.AppsV1.DeleteNamespacedStatefulSetAsync(name, ns, delete, propagationPolicy: delete.PropagationPolicy, cancellationToken: cancellationToken));
        await IgnoreNotFoundAsync(() => Client.CoreV1.DeleteNamespacedServiceAsync(name, ns, delete, propagationPolicy: delete.PropagationPolicy, cancellationToken: cancellationToken));
        await IgnoreNotFoundAsync(() => Client.NetworkingV1.DeleteNamespacedNetworkPolicyAsync(name, ns, delete, propagationPolicy: delete.PropagationPolicy, cancellationToken: cancellationToken));
        await IgnoreNotFoundAsync(() => Client.PolicyV1.DeleteNamespacedPodDisruptionBudgetAsync(name, ns, delete, propagationPolicy: delete.PropagationPolicy, cancellationToken: cancellationToken));
        if (_options.DeletePersistentVolumeClaims)
        {
            var claims = await Client.CoreV1.ListNamespacedPersistentVolumeClaimAsync(ns, labelSelector: VPodSelector(vpodId), cancellationToken: cancellationToken);
            foreach (var claim in claims.Items)
            {
                await IgnoreNotFoundAsync(() => Client.CoreV1.DeleteNamespacedPersistentVolumeClaimAsync(claim.Metadata.Name, ns, cancellationToken: cancellationToken));
            }
        }

        LogRemoved(_logger, vpodId, ns, name, _options.DeletePropagation);
    }

    /// <summary>Refused: data files are not placed in kubernetes vPods yet (their pods have no channel for them).</summary>
    public Task WriteDataFilesAsync(string vpodId, VPodSpec spec, RuntimeHandle? handle, VPodDataFiles files, CancellationToken cancellationToken = default)
    {
        VPodNames.ThrowIfInvalidVPodId(vpodId, nameof(vpodId));
        ArgumentNullException.ThrowIfNull(files);
        throw new InvalidVPodOperationException(vpodId, VPodPhase.None, DataRefusal(vpodId));
    }

    /// <summary>Why a kubernetes vPod cannot receive data files.</summary>
    public static string DataRefusal(string vpodId) =>
        $"vPod '{vpodId}' runs on the kubernetes runtime, which cannot place data files in a vPod yet: use the process or docker deployment method for vPods that need data (e.g. federated jobs).";

    public async Task<WorkloadUsage?> GetUsageAsync(string vpodId, RuntimeHandle handle, VPodSpec spec, CancellationToken cancellationToken = default)
    {
        VPodNames.ThrowIfInvalidVPodId(vpodId, nameof(vpodId));
        ArgumentNullException.ThrowIfNull(handle);
        ArgumentNullException.ThrowIfNull(spec);
        var (_, _, ns) = Parse(handle);
        object metrics;
        try
        {
            metrics = await Client.CustomObjects.ListNamespacedCustomObjectAsync(
                "metrics.k8s.io", "v1beta1", ns, "pods", labelSelector: VPodSelector(vpodId), cancellationToken: cancellationToken);
        }
        catch (HttpOperationException exception) when (exception.Response.StatusCode is HttpStatusCode.NotFound or HttpStatusCode.Forbidden or HttpStatusCode.ServiceUnavailable)
        {
            LogMetricsUnavailable(_logger, vpodId, ns, (int)exception.Response.StatusCode);
            return null;
        }

        return metrics is JsonElement json ? KubernetesUsage.FromPodMetrics(json, spec) : null;
    }

    public async Task<IReadOnlyList<LogLine>> ReadLogsAsync(string vpodId, RuntimeHandle? handle, LogQuery query, CancellationToken cancellationToken = default)
    {
        VPodNames.ThrowIfInvalidVPodId(vpodId, nameof(vpodId));
        ArgumentNullException.ThrowIfNull(query);
        if (handle is null && !IsConfigured)
        {
            return [];
        }

        var ns = handle is { Node.Length: > 0 } ? handle.Node : Namespace;
        var lines = new List<LogLine>();
        foreach (var pod in await GetPodsAsync(vpodId, ns, cancellationToken))
        {
            var stream = await OpenLogAsync(pod.Metadata.Name, ns, query, follow: false, cancellationToken);
            if (stream is null)
            {
                continue;
            }

            using var reader = new StreamReader(stream);
            while (await reader.ReadLineAsync(cancellationToken) is { } line)
            {
                var parsed = KubernetesLogLine.Parse(line, _time.GetUtcNow());
                if (query.Since is not { } since || parsed.Timestamp >= since)
                {
                    lines.Add(parsed);
                }
            }
        }

        var ordered = lines.OrderBy(l => l.Timestamp).ToList();
        return query.Tail is { } tail && ordered.Count > tail ? ordered[^tail..] : ordered;
    }

    public async IAsyncEnumerable<LogLine> FollowLogsAsync(string vpodId, RuntimeHandle? handle, LogQuery query, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(query);
        if (handle is null && !IsConfigured)
        {
            yield break;
        }

        var ns = handle is { Node.Length: > 0 } ? handle.Node : Namespace;
        var pods = await GetPodsAsync(vpodId, ns, cancellationToken);
        var channel = Channel.CreateUnbounded<LogLine>(new UnboundedChannelOptions { SingleReader = true });
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var readers = pods.Select(pod => Task.Run(
            async () =>
            {
                var stream = await OpenLogAsync(pod.Metadata.Name, ns, query, follow: true, stop.Token);
                if (stream is null)
                {
                    return;
                }

                using var reader = new StreamReader(stream);
                while (await reader.ReadLineAsync(stop.Token) is { } line)
                {
                    var parsed = KubernetesLogLine.Parse(line, _time.GetUtcNow());
                    if (query.Since is not { } since || parsed.Timestamp >= since)
                    {
                        await channel.Writer.WriteAsync(parsed, stop.Token);
                    }
                }
            },
            stop.Token)).ToArray();
        _ = Task.WhenAll(readers).ContinueWith(t => channel.Writer.TryComplete(t.Exception?.GetBaseException()), TaskScheduler.Default);

        try
        {
            await foreach (var line in channel.Reader.ReadAllAsync(cancellationToken))
            {
                yield return line;
            }
        }
        finally
        {
            await stop.CancelAsync();
        }
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var cache in _caches.Values)
        {
            await cache.DisposeAsync();
        }

        _caches.Clear();
        if (_connection.IsValueCreated)
        {
            _connection.Value.Client.Dispose();
        }
    }

    private async Task<Stream?> OpenLogAsync(string pod, string ns, LogQuery query, bool follow, CancellationToken cancellationToken)
    {
        int? sinceSeconds = query.Since is { } since
            ? (int)Math.Max(1, Math.Ceiling((_time.GetUtcNow() - since).TotalSeconds))
            : null;
        try
        {
            return await Client.CoreV1.ReadNamespacedPodLogAsync(
                pod,
                ns,
                container: KubernetesWorkloadBuilder.ContainerName,
                follow: follow ? true : null,
                sinceSeconds: sinceSeconds,
                tailLines: query.Tail,
                timestamps: true,
                cancellationToken: cancellationToken);
        }
        catch (HttpOperationException exception) when (exception.Response.StatusCode is HttpStatusCode.NotFound or HttpStatusCode.BadRequest)
        {
            // The pod went away, or its container has not started yet (400 "waiting to start"): it has no output to give.
            return null;
        }
    }

    private async Task<IReadOnlyList<V1Pod>> GetPodsAsync(string vpodId, string ns, CancellationToken cancellationToken)
    {
        if (await EnsureCache(ns).TryGetPodsAsync(vpodId, cancellationToken) is { } cached)
        {
            return cached;
        }

        var list = await Client.CoreV1.ListNamespacedPodAsync(ns, labelSelector: VPodSelector(vpodId), cancellationToken: cancellationToken);
        return list.Items.OrderBy(p => p.Metadata.Name, StringComparer.Ordinal).ToList();
    }

    private KubernetesPodCache EnsureCache(string ns) =>
        _caches.GetOrAdd(ns, n => new KubernetesPodCache(Client, n, KubernetesWorkloadBuilder.VPodIdLabel(_options), _options, _logger));

    /// <summary>Patches the replica count; false when the workload does not exist.</summary>
    private async Task<bool> ScaleAsync(KubernetesWorkloadKind kind, string name, string ns, int replicas, CancellationToken cancellationToken)
    {
        var body = new V1Patch(new { spec = new { replicas } }, V1Patch.PatchType.MergePatch);
        try
        {
            if (kind == KubernetesWorkloadKind.Deployment)
            {
                await Client.AppsV1.PatchNamespacedDeploymentAsync(body, name, ns, cancellationToken: cancellationToken);
            }
            else
            {
                await Client.AppsV1.PatchNamespacedStatefulSetAsync(body, name, ns, cancellationToken: cancellationToken);
            }

            return true;
        }
        catch (HttpOperationException exception) when (exception.Response.StatusCode == HttpStatusCode.NotFound)
        {
            return false;
        }
    }

    private KubernetesWorkload Build(string vpodId, VPodSpec spec, int? replicas)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(vpodId);
        ArgumentNullException.ThrowIfNull(spec);
        return KubernetesWorkloadBuilder.Build(vpodId, spec, _options, Namespace, replicas, SiloNamespace);
    }

    private static RuntimeHandle Handle(KubernetesWorkload workload, VPodSpec spec, DateTimeOffset startedAt) =>
        new(
            DeploymentMethod.Kubernetes,
            $"{KindName(workload.Kind)}/{workload.Name}",
            workload.Namespace,
            startedAt,
            Endpoint: spec.Ports.Count > 0 ? $"http://{workload.Name}.{workload.Namespace}.svc:{spec.Ports[0].ToString(CultureInfo.InvariantCulture)}/" : null);

    private static (KubernetesWorkloadKind Kind, string Name, string Namespace) Parse(RuntimeHandle handle)
    {
        var slash = handle.Id.IndexOf('/', StringComparison.Ordinal);
        var kind = slash > 0 ? handle.Id[..slash] : string.Empty;
        return kind switch
        {
            "deployment" => (KubernetesWorkloadKind.Deployment, handle.Id[(slash + 1)..], handle.Node),
            "statefulset" => (KubernetesWorkloadKind.StatefulSet, handle.Id[(slash + 1)..], handle.Node),
            _ => throw new InvalidOperationException($"'{handle}' is not a kubernetes runtime handle (expected deployment/NAME or statefulset/NAME)."),
        };
    }

    private static string KindName(KubernetesWorkloadKind kind) => kind.ToString().ToLowerInvariant();

    private string VPodSelector(string vpodId) => $"{KubernetesWorkloadBuilder.VPodIdLabel(_options)}={vpodId}";

    private static V1Patch MergePatch(object body) => new(body, V1Patch.PatchType.MergePatch);

    /// <summary>Creates an object; when it exists already (409 Conflict) patches it to the desired state instead.</summary>
    private static async Task UpsertAsync<T>(Func<Task<T>> create, Func<Task<T>> patch)
    {
        try
        {
            await create();
        }
        catch (HttpOperationException exception) when (exception.Response.StatusCode == HttpStatusCode.Conflict)
        {
            await patch();
        }
    }

    /// <summary>Creates an object unless it exists already (409 Conflict).</summary>
    private static async Task CreateUnlessExistsAsync<T>(Func<Task<T>> create)
    {
        try
        {
            await create();
        }
        catch (HttpOperationException exception) when (exception.Response.StatusCode == HttpStatusCode.Conflict)
        {
            // Made by an earlier attempt: keep it.
        }
    }

    private static async Task IgnoreNotFoundAsync<T>(Func<Task<T>> call)
    {
        try
        {
            await call();
        }
        catch (HttpOperationException exception) when (exception.Response.StatusCode == HttpStatusCode.NotFound)
        {
            // Already gone.
        }
    }

    private (IKubernetes, string, string) Connect()
    {
        var configuration = KubernetesConnectionResolver.Resolve(_options);
        var (ns, siloNs) = Namespaces(_options, configuration.Namespace);
        LogConnected(_logger, configuration.Host, ns, siloNs);
        return (new k8s.Kubernetes(configuration), ns, siloNs);
    }

    /// <summary>
    /// The vPods' and the silos' namespaces: the silos' is <see cref="KubernetesRuntimeOptions.SiloNamespace"/>, else the
    /// connection's, else <c>default</c>; the vPods' is <see cref="KubernetesRuntimeOptions.Namespace"/>, else derived from the silos'.
    /// Throws when they are the same: vPods never share the silos' namespace.
    /// </summary>
    public static (string VPods, string Silos) Namespaces(KubernetesRuntimeOptions options, string? connectionNamespace)
    {
        ArgumentNullException.ThrowIfNull(options);
        var silos = !string.IsNullOrWhiteSpace(options.SiloNamespace) ? options.SiloNamespace
            : !string.IsNullOrWhiteSpace(connectionNamespace) ? connectionNamespace
            : "default";
        var vpods = !string.IsNullOrWhiteSpace(options.Namespace) ? options.Namespace : KubernetesNames.VPodNamespaceFor(silos);
        if (vpods == silos)
        {
            throw new InvalidOperationException(
                $"The kubernetes runtime will not run vPods in the silos' namespace '{silos}': set {KubernetesRuntimeOptions.SectionName}:{nameof(KubernetesRuntimeOptions.Namespace)} to a namespace of their own (e.g. '{KubernetesNames.VPodNamespaceFor(silos)}').");
        }

        return (vpods, silos);
    }
}

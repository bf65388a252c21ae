using System.Globalization;
using System.Net;
using System.Threading.Channels;
using k8s;
using k8s.Autorest;
using k8s.Models;
using MetaNode.Tests.Infrastructure;
using MetaNode.Tests.Workload;
using MetaNode.Workloads;

namespace MetaNode.Tests.Kubernetes;

/// <summary>
/// The Deployment controller and the kubelet of a one-node cluster behind a <see cref="FakeKubernetesApiServer"/>: it watches the
/// Deployments (and pods) of one namespace through the API, and for every replica a Deployment asks for it makes a pod whose one
/// container is a real local process of the reference workload (the stand-in for every image), on a pod IP of its own in
/// 127.0.0.0/8 and the container port the pod template names. The pod is reported Pending, then Running, then Ready once the
/// workload prints its start-up line; a workload that exits is reported in CrashLoopBackOff with its exit code.
/// <para>
/// The container's filesystem is emulated by mapping each volume mount to a local directory: an <c>emptyDir</c> to a directory of
/// the pod (<see cref="DataDirectoryOf"/> for the data volume), a <c>persistentVolumeClaim</c> to a directory of the claim that
/// outlives the pods, a <c>hostPath</c> to itself; environment variables naming a mount path are rewritten to match.
/// Scaling a Deployment down, deleting it, or deleting one of its pods stops the processes of the pods that go.
/// StatefulSets are not run.
/// </para>
/// </summary>
internal sealed class LoopbackKubelet : IAsyncDisposable
{
    /// <summary>The reference workload's start-up line (its readiness, as a readiness probe would see it).</summary>
    private const string StartedLine = "workload listening on";

    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(60);

    private static readonly TimeSpan RetryDelay = TimeSpan.FromMilliseconds(200);

    private readonly FakeKubernetesApiServer _server;
    private readonly IKubernetes _client;
    private readonly string _namespace;
    private readonly string _root;
    private readonly string _vpodIdLabel;
    private readonly byte _subnet;
    private readonly Lock _gate = new();
    private readonly Dictionary<string, Pod> _pods = new(StringComparer.Ordinal);
    private readonly Channel<string> _work = Channel.CreateUnbounded<string>(new UnboundedChannelOptions { SingleReader = true });
    private readonly List<string> _errors = [];
    private readonly CancellationTokenSource _stop = new();
    private readonly Task[] _loops;
    private int _nextAddress;

    private LoopbackKubelet(FakeKubernetesApiServer server, string @namespace, string vpodIdLabel)
    {
        _server = server;
        _namespace = @namespace;
        _vpodIdLabel = vpodIdLabel;
        _root = Path.Combine(Path.GetTempPath(), "metanode-kubelet", Guid.NewGuid().ToString("N")[..12]);
        _subnet = (byte)Random.Shared.Next(16, 250);
        _client = new k8s.Kubernetes(new KubernetesClientConfiguration { Host = server.BaseUrl.ToString() });
        _loops =
        [
            Task.Run(() => WatchDeploymentsAsync(_stop.Token)),
            Task.Run(() => WatchPodsAsync(_stop.Token)),
            Task.Run(() => ReconcileAsync(_stop.Token)),
        ];
    }

    /// <summary>Starts watching <paramref name="namespace"/>; <paramref name="vpodIdLabel"/> is the label that names a pod's vPod.</summary>
    public static LoopbackKubelet Start(FakeKubernetesApiServer server, string @namespace, string vpodIdLabel = "metanode.io/vpod-id")
    {
        ArgumentNullException.ThrowIfNull(server);
        return new LoopbackKubelet(server, @namespace, vpodIdLabel);
    }

    /// <summary>The pods running now, by pod name.</summary>
    public IReadOnlyList<RunningPod> Pods
    {
        get
        {
            lock (_gate)
            {
                return _pods.Values.Select(p => new RunningPod(p.Name, p.Deployment, p.VPodId, p.Address, p.Port, p.DataDirectory, p.KeyDirectory, p.Process.ProcessId)).ToList();
            }
        }
    }

    /// <summary>Errors of the watches and of starting pods (none when all went well).</summary>
    public IReadOnlyList<string> Errors
    {
        get
        {
            lock (_gate)
            {
                return _errors.ToArray();
            }
        }
    }

    /// <summary>The data directory (the <c>emptyDir</c> mounted at <c>METANODE_DATA_DIR</c>) of the one running pod of <paramref name="vpodId"/>.</summary>
    public string DataDirectoryOf(string vpodId)
    {
        lock (_gate)
        {
            var pods = _pods.Values.Where(p => p.VPodId == vpodId).ToList();
            return pods.Count == 1
                ? pods[0].DataDirectory ?? throw new InvalidOperationException($"The pod {pods[0].Name} of vPod '{vpodId}' names no {WorkloadProtocol.DataDirectoryVariable}.")
                : throw new InvalidOperationException($"vPod '{vpodId}' has {pods.Count} running pods; expected one.");
        }
    }

    /// <summary>The last output lines of every pod's workload, for a test's report.</summary>
    public string Describe(int lines = 10)
    {
        lock (_gate)
        {
            return string.Join(
                Environment.NewLine,
                _pods.Values.OrderBy(p => p.Name, StringComparer.Ordinal).Select(p =>
                    $"pod {p.Name} ({p.Address}:{p.Port.ToString(CultureInfo.InvariantCulture)}, pid {p.Process.ProcessId.ToString(CultureInfo.InvariantCulture)}):{Environment.NewLine}  "
                    + string.Join(Environment.NewLine + "  ", p.Process.Lines.TakeLast(lines))));
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _work.Writer.TryComplete();
        await Task.WhenAll(_loops);
        List<Pod> pods;
        lock (_gate)
        {
            pods = _pods.Values.ToList();
            _pods.Clear();
        }

        foreach (var pod in pods)
        {
            await pod.Process.DisposeAsync();
        }

        _client.Dispose();
        _stop.Dispose();
        if (Directory.Exists(_root))
        {
            Directory.Delete(_root, recursive: true);
        }
    }

    private string DeploymentPath(string name) => $"apis/apps/v1/namespaces/{_namespace}/deployments/{name}";

    private string PodCollection => $"api/v1/namespaces/{_namespace}/pods";

    /// <summary>Lists, then watches from the list's version; a watch that ends is made again from a fresh list.</summary>
    private async Task WatchDeploymentsAsync(CancellationToken cancellationToken)
    {
        while (!cancellationToken.IsCancellationRequested)
        {
            try
            {
                var list = await _client.AppsV1.ListNamespacedDeploymentAsync(_namespace, cancellationToken: cancellationToken);
                foreach (var deployment in list.Items)
                {
                    _work.Writer.TryWrite(deployment.Metadata.Name);
                }

                await foreach (var (_, deployment) in _client.AppsV1.WatchListNamespacedDeploymentAsync(
                    _namespace, resourceVersion: list.Metadata.ResourceVersion, onError: OnWatchError, cancellationToken: cancellationToken))
                {
                    _work.Writer.TryWrite(deployment.Metadata.Name);
                }
            }
            catch (Exception) when (cancellationToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception exception)
            {
                OnWatchError(exception);
                if (!await RetryDelayAsync(cancellationToken))
                {
                    return;
                }
            }
        }
    }

    /// <summary>A pod deleted through the API takes its container with it; its Deployment then makes another when it still wants it.</summary>
    private async Task WatchPodsAsync(CancellationToken cancellationToken)
    {
        while (!cancellationToken.IsCancellationRequested)
        {
            try
            {
                var list = await _client.CoreV1.ListNamespacedPodAsync(_namespace, cancellationToken: cancellationToken);
                lock (_gate)
                {
                    // Pods deleted while no watch was open are found by their Deployment's next reconcile.
                    foreach (var deployment in _pods.Values.Select(p => p.Deployment).Distinct(StringComparer.Ordinal))
                    {
                        _work.Writer.TryWrite(deployment);
                    }
                }

                await foreach (var (type, pod) in _client.CoreV1.WatchListNamespacedPodAsync(
                    _namespace, resourceVersion: list.Metadata.ResourceVersion, onError: OnWatchError, cancellationToken: cancellationToken))
                {
                    if (type == WatchEventType.Deleted)
                    {
                        lock (_gate)
                        {
                            if (_pods.TryGetValue(pod.Metadata.Name, out var known))
                            {
                                _work.Writer.TryWrite(known.Deployment);
                            }
                        }
                    }
                }
            }
            catch (Exception) when (cancellationToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception exception)
            {
                OnWatchError(exception);
                if (!await RetryDelayAsync(cancellationToken))
                {
                    return;
                }
            }
        }
    }

    /// <summary>Waits before a failed list or watch is made again; false when the kubelet stops meanwhile.</summary>
    private static async Task<bool> RetryDelayAsync(CancellationToken cancellationToken)
    {
        try
        {
            await Task.Delay(RetryDelay, cancellationToken);
            return true;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    private void OnWatchError(Exception exception)
    {
        lock (_gate)
        {
            _errors.Add($"watch: {exception.GetBaseException().Message}");
        }
    }

    /// <summary>One Deployment at a time: brings its pods in line with the replicas it asks for now.</summary>
    private async Task ReconcileAsync(CancellationToken cancellationToken)
    {
        try
        {
            await foreach (var name in _work.Reader.ReadAllAsync(cancellationToken))
            {
                try
                {
                    await ReconcileAsync(name, cancellationToken);
                }
                catch (Exception exception) when (exception is not OperationCanceledException)
                {
                    lock (_gate)
                    {
                        _errors.Add($"deployment {name}: {exception.Message}");
                    }
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    private async Task ReconcileAsync(string deploymentName, CancellationToken cancellationToken)
    {
        var stored = _server.Get(DeploymentPath(deploymentName));
        var deployment = stored is null ? null : KubernetesJson.Deserialize<V1Deployment>(stored.ToJsonString());
        var desired = deployment is null ? 0 : deployment.Spec.Replicas ?? 1;
        List<Pod> gone;
        List<Pod> surplus;
        int missing;
        lock (_gate)
        {
            var mine = _pods.Values.Where(p => p.Deployment == deploymentName).OrderBy(p => p.Name, StringComparer.Ordinal).ToList();
            gone = mine.Where(p => _server.Get($"{PodCollection}/{p.Name}") is null).ToList();
            var live = mine.Except(gone).ToList();
            surplus = live.Skip(desired).ToList();
            missing = Math.Max(0, desired - live.Count);
            foreach (var pod in gone.Concat(surplus))
            {
                // Forgotten first: nothing reports on a pod that is going.
                _pods.Remove(pod.Name);
            }
        }

        foreach (var pod in gone.Concat(surplus))
        {
            await pod.Process.DisposeAsync();
        }

        foreach (var pod in surplus)
        {
            try
            {
                await _client.CoreV1.DeleteNamespacedPodAsync(pod.Name, _namespace, gracePeriodSeconds: 0, cancellationToken: cancellationToken);
            }
            catch (HttpOperationException exception) when (exception.Response.StatusCode == HttpStatusCode.NotFound)
            {
                // Deleted meanwhile (the runtime deletes the pods it stops).
            }
        }

        for (var i = 0; i < missing; i++)
        {
            StartPod(deployment!);
        }
    }

    private void StartPod(V1Deployment deployment)
    {
        var template = deployment.Spec.Template;
        var container = template.Spec.Containers[0];
        var labels = new Dictionary<string, string>(template.Metadata.Labels, StringComparer.Ordinal);
        var name = $"{deployment.Metadata.Name}-{Guid.NewGuid().ToString("N")[..5]}";
        var number = Interlocked.Increment(ref _nextAddress);
        var address = $"127.{_subnet.ToString(CultureInfo.InvariantCulture)}.{(number / 250).ToString(CultureInfo.InvariantCulture)}.{(number % 250 + 1).ToString(CultureInfo.InvariantCulture)}";
        var port = container.Ports?.FirstOrDefault()?.ContainerPort
            ?? throw new InvalidOperationException($"The pod template of deployment {deployment.Metadata.Name} names no container port: the workload protocol needs one.");

        // The container's mounts, as local directories.
        var mounts = new List<(string MountPath, string Local)>();
        foreach (var mount in container.VolumeMounts ?? [])
        {
            var volume = template.Spec.Volumes?.FirstOrDefault(v => v.Name == mount.Name);
            var local = volume switch
            {
                { EmptyDir: not null } => Path.Combine(_root, "pods", name, mount.Name),
                { PersistentVolumeClaim: { } claim } => Path.Combine(_root, "claims", claim.ClaimName),
                { HostPath: { } host } => host.Path,
                _ => throw new InvalidOperationException($"Deployment {deployment.Metadata.Name}: volume mount '{mount.Name}' has no emptyDir, claim or host path volume this kubelet can give it."),
            };
            Directory.CreateDirectory(local);
            mounts.Add((mount.MountPath, local));
        }

        var environment = (container.Env ?? []).ToDictionary(e => e.Name, e => (string?)MapPath(e.Value, mounts), StringComparer.Ordinal);
        environment[WorkloadProtocol.HostVariable] = address;
        environment[WorkloadProtocol.PortVariable] = port.ToString(CultureInfo.InvariantCulture);

        // A workload answers identity challenges only for its own id: the pod template must name the vPod it runs.
        var vpodId = labels.GetValueOrDefault(_vpodIdLabel);
        if (!environment.TryGetValue(WorkloadProtocol.VPodIdVariable, out var fromTemplate) || !string.Equals(fromTemplate, vpodId, StringComparison.Ordinal))
        {
            throw new InvalidOperationException($"the pod template of vPod '{vpodId}' sets {WorkloadProtocol.VPodIdVariable} to '{fromTemplate}'.");
        }

        var dataDirectory = environment.GetValueOrDefault(WorkloadProtocol.DataDirectoryVariable);
        var pod = new V1Pod
        {
            ApiVersion = "v1",
            Kind = "Pod",
            Metadata = new V1ObjectMeta
            {
                Name = name,
                NamespaceProperty = _namespace,
                Labels = labels,
                OwnerReferences =
                [
                    new V1OwnerReference { ApiVersion = "apps/v1", Kind = "Deployment", Name = deployment.Metadata.Name, Uid = deployment.Metadata.Uid ?? string.Empty, Controller = true },
                ],
            },
            Spec = template.Spec,
        };
        pod.Spec.NodeName = "loopback";
        Report(pod, Status("Pending", address, new V1ContainerState { Waiting = new V1ContainerStateWaiting { Reason = "ContainerCreating" } }, container, ready: false));

        var process = WorkloadProcess.Start(environment);
        var running = new Pod(name, deployment.Metadata.Name, vpodId, address, port, dataDirectory, process.KeyDirectory, process);
        lock (_gate)
        {
            _pods[name] = running;
        }

        var started = DateTime.UtcNow;
        Report(pod, Status("Running", address, new V1ContainerState { Running = new V1ContainerStateRunning { StartedAt = started } }, container, ready: false), running);
        _ = Task.Run(() => WatchContainerAsync(pod, running, container, started));
    }

    /// <summary>Ready once the workload prints its start-up line; in CrashLoopBackOff when it exits while its pod still stands.</summary>
    private async Task WatchContainerAsync(V1Pod pod, Pod running, V1Container container, DateTime started)
    {
        var exited = running.Process.WaitForExitAsync(Timeout.InfiniteTimeSpan);
        var ready = running.Process.WaitForLineAsync(l => l.Contains(StartedLine, StringComparison.Ordinal), "its start-up line", StartTimeout);
        if (await Task.WhenAny(ready, exited) == ready)
        {
            try
            {
                await ready;
                Report(pod, Status("Running", running.Address, new V1ContainerState { Running = new V1ContainerStateRunning { StartedAt = started } }, container, ready: true), running);
            }
            catch (TimeoutException exception)
            {
                // Neither started nor exited in time: it stays unready, and the test's report says why.
                OnPodError(running, exception);
            }
        }
        else
        {
            // Exited first: the start-up line will never come, and its wait's timeout is of no interest.
            _ = ready.ContinueWith(t => t.Exception, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted, TaskScheduler.Default);
        }

        int exitCode;
        try
        {
            exitCode = await exited;
        }
        catch (Exception exception) when (exception is InvalidOperationException or ObjectDisposedException)
        {
            return; // Disposed with its pod.
        }

        var lastLines = string.Join(" | ", running.Process.Lines.TakeLast(3));
        Report(pod, Status(
            "Running",
            running.Address,
            new V1ContainerState { Waiting = new V1ContainerStateWaiting { Reason = "CrashLoopBackOff", Message = $"back-off restarting failed container: {lastLines}" } },
            container,
            ready: false,
            lastState: new V1ContainerState { Terminated = new V1ContainerStateTerminated { ExitCode = exitCode, Reason = "Error", FinishedAt = DateTime.UtcNow } }), running);
    }

    private void OnPodError(Pod running, Exception exception)
    {
        lock (_gate)
        {
            if (_pods.ContainsKey(running.Name))
            {
                _errors.Add($"pod {running.Name}: {exception.Message}");
            }
        }
    }

    /// <summary>Puts the pod with <paramref name="status"/>, unless (for a running pod) it was forgotten meanwhile: a pod that went stays gone.</summary>
    private void Report(V1Pod pod, V1PodStatus status, Pod? running = null)
    {
        lock (_gate)
        {
            if (running is not null
                && (!_pods.TryGetValue(running.Name, out var current) || !ReferenceEquals(current, running) || _server.Get($"{PodCollection}/{running.Name}") is null))
            {
                return;
            }

            pod.Status = status;
            _server.Put(PodCollection, pod);
        }
    }

    private static V1PodStatus Status(string phase, string address, V1ContainerState state, V1Container container, bool ready, V1ContainerState? lastState = null)
    {
        var now = DateTime.UtcNow;
        var readiness = ready ? "True" : "False";
        return new V1PodStatus
        {
            Phase = phase,
            HostIP = "127.0.0.1",
            PodIP = address,
            PodIPs = [new V1PodIP { Ip = address }],
            Conditions =
            [
                new V1PodCondition { Type = "PodScheduled", Status = "True", LastTransitionTime = now },
                new V1PodCondition { Type = "ContainersReady", Status = readiness, LastTransitionTime = now },
                new V1PodCondition { Type = "Ready", Status = readiness, LastTransitionTime = now },
            ],
            ContainerStatuses =
            [
                new V1ContainerStatus
                {
                    Name = container.Name,
                    Image = container.Image,
                    ImageID = string.Empty,
                    Ready = ready,
                    Started = state.Running is not null,
                    RestartCount = lastState is null ? 0 : 1,
                    State = state,
                    LastState = lastState,
                },
            ],
        };
    }

    /// <summary>A value naming a mount path (or a path under one) as the local directory of that mount.</summary>
    private static string MapPath(string? value, IReadOnlyList<(string MountPath, string Local)> mounts)
    {
        if (string.IsNullOrEmpty(value))
        {
            return value ?? string.Empty;
        }

        foreach (var (mountPath, local) in mounts.OrderByDescending(m => m.MountPath.Length))
        {
            var root = mountPath.TrimEnd('/');
            if (value == root || value.StartsWith(root + "/", StringComparison.Ordinal))
            {
                return local + value[root.Length..];
            }
        }

        return value;
    }

    private sealed record Pod(string Name, string Deployment, string? VPodId, string Address, int Port, string? DataDirectory, string KeyDirectory, WorkloadProcess Process);

    /// <summary>A pod this kubelet runs: where its workload listens, and where its data and key volumes lie.</summary>
    public sealed record RunningPod(string Name, string Deployment, string? VPodId, string Address, int Port, string? DataDirectory, string KeyDirectory, int ProcessId);
}

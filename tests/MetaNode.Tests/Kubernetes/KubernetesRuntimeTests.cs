using System.Text.Json.Nodes;
using k8s;
using k8s.Models;
using MetaNode.Grains.Runtime;
using MetaNode.Grains.Runtime.Kubernetes;
using MetaNode.Tests.Infrastructure;
using MetaNode.VPods;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace MetaNode.Tests.Kubernetes;

/// <summary>The kubernetes runtime with the real client against an in-process API server speaking the REST protocol.</summary>
public sealed class KubernetesRuntimeTests : IAsyncLifetime
{
    private const string Ns = "vpods";
    private const string Apps = "/apis/apps/v1/namespaces/vpods";
    private const string Core = "/api/v1/namespaces/vpods";

    private FakeKubernetesApiServer _server = null!;
    private KubernetesRuntime _runtime = null!;

    public async Task InitializeAsync()
    {
        _server = await FakeKubernetesApiServer.StartAsync();
        _runtime = Runtime(new KubernetesRuntimeOptions());
    }

    public async Task DisposeAsync()
    {
        await _runtime.DisposeAsync();
        await _server.DisposeAsync();
    }

    private KubernetesRuntime Runtime(KubernetesRuntimeOptions options)
    {
        options.BaseUrl = _server.BaseUrl.ToString();
        options.Namespace = Ns;
        options.RetryDelay = TimeSpan.FromMilliseconds(50);
        return new KubernetesRuntime(Options.Create(options), NullLogger<KubernetesRuntime>.Instance);
    }

    private static string NewId() => "vpod-" + Guid.NewGuid().ToString("N")[..8];

    private static VPodSpec Spec(string name = "worker") => new()
    {
        Name = name,
        DeploymentMethod = DeploymentMethod.Kubernetes,
        Image = "metanode/compute-vpod:latest",
        CpuMillis = 500,
        MemoryBytes = 256L * 1024 * 1024,
        Ports = [8080],
        Replicas = 3,
    };

    private IReadOnlyList<FakeKubernetesApiServer.RecordedRequest> RequestsTo(string method, string path) =>
        _server.Requests.Where(r => r.Method == method && r.Path == path).ToList();

    [Fact]
    public async Task ProvisionAsync_CreatesWorkloadAndService_WithZeroReplicas()
    {
        var id = NewId();
        var handle = await _runtime.ProvisionAsync(id, Spec() with { HighAvailability = true, NetworkPolicy = new NetworkPolicySpec { IngressFrom = ["role=client"] } });

        Assert.Equal((DeploymentMethod.Kubernetes, $"deployment/{id}", Ns), (handle.Method, handle.Id, handle.Node));
        var post = Assert.Single(RequestsTo("POST", $"{Apps}/deployments"));
        var sent = KubernetesJson.Deserialize<V1Deployment>(post.Body);
        Assert.Equal(0, sent.Spec.Replicas);
        Assert.Equal("metanode/compute-vpod:latest", sent.Spec.Template.Spec.Containers[0].Image);
        Assert.Single(RequestsTo("POST", $"{Core}/services"));
        Assert.Single(RequestsTo("POST", $"/apis/networking.k8s.io/v1/namespaces/{Ns}/networkpolicies"));
        Assert.Single(RequestsTo("POST", $"/apis/policy/v1/namespaces/{Ns}/poddisruptionbudgets"));

        var stored = _server.Get($"{Apps}/deployments/{id}")!;
        Assert.Equal(id, stored["metadata"]!["labels"]!["metanode.io/vpod-id"]!.GetValue<string>());
        Assert.Equal(0, stored["spec"]!["replicas"]!.GetValue<int>());
        Assert.NotNull(_server.Get($"{Core}/services/{id}"));
        Assert.NotNull(_server.Get($"/apis/networking.k8s.io/v1/namespaces/{Ns}/networkpolicies/{id}"));
        Assert.NotNull(_server.Get($"/apis/policy/v1/namespaces/{Ns}/poddisruptionbudgets/{id}"));
    }

    [Fact]
    public async Task ProvisionAsync_PatchesWithoutScaling_WhenObjectsExist()
    {
        var id = NewId();
        await _runtime.ProvisionAsync(id, Spec());
        await _runtime.StartAsync(id, Spec(), null);

        await _runtime.ProvisionAsync(id, Spec());

        var posts = RequestsTo("POST", $"{Apps}/deployments");
        Assert.Equal(2, posts.Count);
        var patches = RequestsTo("PATCH", $"{Apps}/deployments/{id}");
        var last = patches[^1];
        Assert.StartsWith("application/merge-patch+json", last.ContentType, StringComparison.Ordinal);
        Assert.Null(last.Json!["spec"]!["replicas"]);
        Assert.Equal("metanode/compute-vpod:latest", last.Json!["spec"]!["template"]!["spec"]!["containers"]![0]!["image"]!.GetValue<string>());
        Assert.Single(_server.List($"{Apps}/deployments"));
        Assert.Equal(3, _server.Get($"{Apps}/deployments/{id}")!["spec"]!["replicas"]!.GetValue<int>());
        Assert.Contains(_server.Requests, r => r.Method == "PATCH" && r.Path == $"{Core}/services/{id}");
    }

    [Fact]
    public async Task StartAsync_ScalesByMergePatch_AndReturnsTheServiceEndpoint()
    {
        var id = NewId();
        await _runtime.ProvisionAsync(id, Spec());

        var handle = await _runtime.StartAsync(id, Spec(), null);

        var scale = RequestsTo("PATCH", $"{Apps}/deployments/{id}").Last();
        Assert.Equal("""{"spec":{"replicas":3}}""", scale.Body);
        Assert.StartsWith("application/merge-patch+json", scale.ContentType, StringComparison.Ordinal);
        Assert.Equal(3, _server.Get($"{Apps}/deployments/{id}")!["spec"]!["replicas"]!.GetValue<int>());
        Assert.Equal($"http://{id}.{Ns}.svc:8080/", handle.Endpoint);
    }

    [Fact]
    public async Task StartAsync_RecreatesTheWorkload_WhenItWasDeletedOutside()
    {
        var id = NewId();
        await _runtime.ProvisionAsync(id, Spec());
        await _runtime.RemoveAsync(id, null);

        await _runtime.StartAsync(id, Spec(), null);

        Assert.Equal(3, _server.Get($"{Apps}/deployments/{id}")!["spec"]!["replicas"]!.GetValue<int>());
    }

    [Fact]
    public async Task StartAsync_UsesAStatefulSetWithClaims_WhenPersistentStorageIsAsked()
    {
        var id = NewId();
        var spec = Spec() with { PersistentStorage = new StorageRequest(1L << 30, "fast", "/var/lib/vpod") };

        await _runtime.ProvisionAsync(id, spec);
        var handle = await _runtime.StartAsync(id, spec, null);

        Assert.Equal($"statefulset/{id}", handle.Id);
        var stored = _server.Get($"{Apps}/statefulsets/{id}")!;
        Assert.Equal(3, stored["spec"]!["replicas"]!.GetValue<int>());
        var claim = stored["spec"]!["volumeClaimTemplates"]![0]!;
        Assert.Equal(("1Gi", "fast"), (claim["spec"]!["resources"]!["requests"]!["storage"]!.GetValue<string>(), claim["spec"]!["storageClassName"]!.GetValue<string>()));
        var key = stored["spec"]!["volumeClaimTemplates"]![1]!;
        Assert.Equal(("key", "16Mi"), (key["metadata"]!["name"]!.GetValue<string>(), key["spec"]!["resources"]!["requests"]!["storage"]!.GetValue<string>()));
        Assert.Empty(_server.List($"{Apps}/deployments"));

        // The StatefulSet controller makes the key claims from the template: the runtime creates none itself.
        Assert.Empty(RequestsTo("POST", $"{Core}/persistentvolumeclaims"));
    }

    [Fact]
    public async Task ProvisionAsync_CreatesTheKeyClaimBeforeTheDeployment_AndKeepsIt_WhenProvisionedAgain()
    {
        var id = NewId();

        await _runtime.ProvisionAsync(id, Spec());
        await _runtime.StartAsync(id, Spec(), null);
        await _runtime.ProvisionAsync(id, Spec() with { Env = new Dictionary<string, string> { ["CHANGED"] = "yes" } });

        var stored = _server.Get($"{Core}/persistentvolumeclaims/{id}-key")!;
        Assert.Equal(id, stored["metadata"]!["labels"]!["metanode.io/vpod-id"]!.GetValue<string>());
        Assert.Equal("16Mi", stored["spec"]!["resources"]!["requests"]!["storage"]!.GetValue<string>());
        Assert.Equal("ReadWriteOnce", stored["spec"]!["accessModes"]![0]!.GetValue<string>());
        Assert.Equal(2, RequestsTo("POST", $"{Core}/persistentvolumeclaims").Count);
        Assert.DoesNotContain(_server.Requests, r => r.Method is "PATCH" or "PUT" or "DELETE" && r.Path.Contains("/persistentvolumeclaims", StringComparison.Ordinal));
        var requests = _server.Requests.ToList();
        Assert.True(
            requests.FindIndex(r => r.Method == "POST" && r.Path == $"{Core}/persistentvolumeclaims") < requests.FindIndex(r => r.Method == "POST" && r.Path == $"{Apps}/deployments"),
            "the key claim is created before the Deployment whose pods mount it");
        var deployment = _server.Get($"{Apps}/deployments/{id}")!;
        var volume = deployment["spec"]!["template"]!["spec"]!["volumes"]!.AsArray().Single(v => v!["name"]!.GetValue<string>() == "key")!;
        Assert.Equal($"{id}-key", volume["persistentVolumeClaim"]!["claimName"]!.GetValue<string>());
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task RemoveAsync_DeletesTheDeploymentsKeyClaim_OnlyWhenClaimsAreToBeDeleted(bool deleteClaims)
    {
        await using var runtime = Runtime(new KubernetesRuntimeOptions { DeletePersistentVolumeClaims = deleteClaims });
        var id = NewId();
        var handle = await runtime.ProvisionAsync(id, Spec());
        await runtime.StartAsync(id, Spec(), handle);
        await runtime.StopAsync(id, handle, TimeSpan.FromSeconds(1), force: false);
        Assert.NotNull(_server.Get($"{Core}/persistentvolumeclaims/{id}-key"));

        await runtime.RemoveAsync(id, handle);

        Assert.Null(_server.Get($"{Apps}/deployments/{id}"));
        Assert.Equal(deleteClaims, _server.Get($"{Core}/persistentvolumeclaims/{id}-key") is null);
    }

    [Fact]
    public async Task InspectAsync_ReportsRunning_WhenTheWatchDeliversARunningPod()
    {
        var id = NewId();
        var handle = await StartedAsync(id);
        Assert.Equal(WorkloadState.Created, (await _runtime.InspectAsync(id, handle)).State);

        _server.Put($"{Core}/pods", Pod(id, "0", running: true));

        var observation = await Eventually.WaitAsync(() => _runtime.InspectAsync(id, handle), o => o.State == WorkloadState.Running, "the pod watch to report the running pod");
        Assert.Contains("1/3 pods running", observation.Detail, StringComparison.Ordinal);
        var watch = Assert.Single(_server.Requests, r => r.Method == "GET" && r.Path == $"{Core}/pods" && r.QueryValues.GetValueOrDefault("watch") == "true");
        Assert.Equal("app.kubernetes.io/managed-by=metanode", watch.QueryValues["labelSelector"]);
        Assert.True(watch.QueryValues.ContainsKey("resourceVersion"));
        Assert.Equal("true", watch.QueryValues["allowWatchBookmarks"]);
    }

    [Fact]
    public async Task InspectAsync_ReportsExitCodeAndOomKill_WhenTheContainerIsInCrashLoop()
    {
        var id = NewId();
        var handle = await StartedAsync(id);
        var pod = Pod(id, "0", running: false);
        pod.Status.ContainerStatuses[0].State = new V1ContainerState { Waiting = new V1ContainerStateWaiting { Reason = "CrashLoopBackOff", Message = "back-off 40s restarting failed container" } };
        pod.Status.ContainerStatuses[0].LastState = new V1ContainerState { Terminated = new V1ContainerStateTerminated { ExitCode = 137, Reason = "OOMKilled" } };
        pod.Status.ContainerStatuses[0].RestartCount = 4;

        _server.Put($"{Core}/pods", pod);

        var observation = await Eventually.WaitAsync(() => _runtime.InspectAsync(id, handle), o => o.State == WorkloadState.Exited, "the crash loop to be observed");
        Assert.Equal((137, true), (observation.ExitCode, observation.OomKilled));
        Assert.Contains("CrashLoopBackOff", observation.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task InspectAsync_NamesTheImage_WhenItCannotBePulled()
    {
        var id = NewId();
        var handle = await StartedAsync(id);
        var pod = Pod(id, "0", running: false);
        pod.Status.ContainerStatuses[0].State = new V1ContainerState { Waiting = new V1ContainerStateWaiting { Reason = "ImagePullBackOff", Message = "Back-off pulling image" } };

        _server.Put($"{Core}/pods", pod);

        var observation = await Eventually.WaitAsync(() => _runtime.InspectAsync(id, handle), o => o.State == WorkloadState.NotFound, "the image pull failure to be observed");
        Assert.Contains("image 'metanode/compute-vpod:latest' cannot be pulled", observation.Detail, StringComparison.Ordinal);
        Assert.Contains("ImagePullBackOff", observation.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task InspectAsync_ReportsNotFound_WhenTheWorkloadIsGone()
    {
        var id = NewId();
        var handle = await StartedAsync(id);
        await _runtime.RemoveAsync(id, handle);

        var observation = await _runtime.InspectAsync(id, handle);

        Assert.Equal(WorkloadState.NotFound, observation.State);
        Assert.Contains($"deployment {Ns}/{id} does not exist", observation.Detail, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task PodWatch_ListsAgain_WhenTheResourceVersionExpired(bool goneAsHttpStatus)
    {
        _server.GoneAsHttpStatus = goneAsHttpStatus;
        var id = NewId();
        var handle = await StartedAsync(id);
        _server.Put($"{Core}/pods", Pod(id, "0", running: true));
        await Eventually.WaitAsync(() => _runtime.InspectAsync(id, handle), o => o.State == WorkloadState.Running, "the first running pod");
        var lists = _runtime.PodListCount(Ns);

        _server.ExpireResourceVersions();
        var crashed = Pod(id, "0", running: false);
        crashed.Status.ContainerStatuses[0].State = new V1ContainerState { Waiting = new V1ContainerStateWaiting { Reason = "CrashLoopBackOff" } };
        crashed.Status.ContainerStatuses[0].LastState = new V1ContainerState { Terminated = new V1ContainerStateTerminated { ExitCode = 3, Reason = "Error" } };
        _server.Put($"{Core}/pods", crashed);

        var observation = await Eventually.WaitAsync(() => _runtime.InspectAsync(id, handle), o => o.State == WorkloadState.Exited, "the cache to list again after 410 Gone and see the crash");
        Assert.Equal(3, observation.ExitCode);
        Assert.True(_runtime.PodListCount(Ns) > lists, "the pod cache listed again after the watch answered 410 Gone");
    }

    [Fact]
    public async Task StopAsync_ScalesToZeroAndDeletesPods_WithTheGivenGrace()
    {
        var id = NewId();
        var handle = await StartedAsync(id);
        _server.Put($"{Core}/pods", Pod(id, "0", running: true));
        _server.Put($"{Core}/pods", Pod(id, "1", running: true));

        await _runtime.StopAsync(id, handle, TimeSpan.FromSeconds(7), force: false);

        Assert.Equal(0, _server.Get($"{Apps}/deployments/{id}")!["spec"]!["replicas"]!.GetValue<int>());
        var deletes = _server.Requests.Where(r => r.Method == "DELETE" && r.Path.StartsWith($"{Core}/pods/{id}-", StringComparison.Ordinal)).ToList();
        Assert.Equal(2, deletes.Count);
        Assert.All(deletes, d => Assert.Equal("7", d.QueryValues["gracePeriodSeconds"]));
        Assert.Empty(_server.List($"{Core}/pods"));
        await _runtime.StartAsync(id, Spec(), handle);
        Assert.Equal(WorkloadState.Created, (await _runtime.InspectAsync(id, handle)).State);

        _server.Put($"{Core}/pods", Pod(id, "2", running: true));
        await _runtime.StopAsync(id, handle, TimeSpan.FromSeconds(7), force: true);
        Assert.Equal("0", _server.Requests.Last(r => r.Method == "DELETE").QueryValues["gracePeriodSeconds"]);
    }

    [Fact]
    public async Task RemoveAsync_DeletesEveryObjectWithPropagation_AndSucceedsTwice()
    {
        await using var runtime = Runtime(new KubernetesRuntimeOptions { DeletePropagation = DeletePropagation.Foreground });
        var id = NewId();
        var spec = Spec() with { HighAvailability = true, NetworkPolicy = new NetworkPolicySpec(), PersistentStorage = new StorageRequest(64L << 20) };
        var handle = await runtime.ProvisionAsync(id, spec);
        _server.Put($"{Core}/persistentvolumeclaims", new V1PersistentVolumeClaim
        {
            Metadata = new V1ObjectMeta { Name = $"data-{id}-0", Labels = new Dictionary<string, string> { ["metanode.io/vpod-id"] = id } },
        });

        await runtime.RemoveAsync(id, handle);
        await runtime.RemoveAsync(id, handle);

        foreach (var path in new[]
        {
            $"{Apps}/statefulsets/{id}", $"{Core}/services/{id}", $"/apis/networking.k8s.io/v1/namespaces/{Ns}/networkpolicies/{id}",
            $"/apis/policy/v1/namespaces/{Ns}/poddisruptionbudgets/{id}", $"{Core}/persistentvolumeclaims/data-{id}-0",
        })
        {
            Assert.Null(_server.Get(path));
            Assert.Contains(_server.Requests, r => r.Method == "DELETE" && r.Path == path);
        }

        var delete = _server.Requests.First(r => r.Method == "DELETE" && r.Path == $"{Apps}/statefulsets/{id}");
        Assert.Equal("Foreground", delete.Json!["propagationPolicy"]!.GetValue<string>());
        Assert.Equal("Foreground", delete.QueryValues["propagationPolicy"]);
        Assert.Contains(_server.Requests, r => r.Method == "DELETE" && r.Path == $"{Apps}/deployments/{id}");
    }

    [Fact]
    public async Task ReadLogsAsync_ReturnsTheTailWithTimestamps_FromThePodLogApi()
    {
        var id = NewId();
        var handle = await StartedAsync(id);
        _server.Put($"{Core}/pods", Pod(id, "0", running: true));
        await Eventually.WaitAsync(() => _runtime.InspectAsync(id, handle), o => o.State == WorkloadState.Running, "the running pod");
        var start = DateTimeOffset.UtcNow.AddMinutes(-5);
        for (var i = 0; i < 5; i++)
        {
            _server.AppendPodLog(Ns, $"{id}-0", start.AddMinutes(i), $"line {i}");
        }

        var lines = await _runtime.ReadLogsAsync(id, handle, new LogQuery(Tail: 2, Since: start.AddMinutes(1).AddSeconds(-1)));

        Assert.Equal(["line 3", "line 4"], lines.Select(l => l.Text));
        Assert.Equal(start.AddMinutes(4).UtcTicks, lines[1].Timestamp.UtcTicks);
        var request = Assert.Single(_server.Requests, r => r.Path == $"{Core}/pods/{id}-0/log");
        Assert.Equal(("workload", "2", "true"), (request.QueryValues["container"], request.QueryValues["tailLines"], request.QueryValues["timestamps"]));
        Assert.InRange(int.Parse(request.QueryValues["sinceSeconds"], System.Globalization.CultureInfo.InvariantCulture), 240, 250);
    }

    [Fact]
    public async Task FollowLogsAsync_StreamsLinesAsTheyAreWritten()
    {
        var id = NewId();
        var handle = await StartedAsync(id);
        _server.Put($"{Core}/pods", Pod(id, "0", running: true));
        await Eventually.WaitAsync(() => _runtime.InspectAsync(id, handle), o => o.State == WorkloadState.Running, "the running pod");
        _server.AppendPodLog(Ns, $"{id}-0", DateTimeOffset.UtcNow, "before");
        using var cancel = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var received = new List<string>();

        await foreach (var line in _runtime.FollowLogsAsync(id, handle, new LogQuery(), cancel.Token))
        {
            received.Add(line.Text);
            if (received.Count == 1)
            {
                _server.AppendPodLog(Ns, $"{id}-0", DateTimeOffset.UtcNow, "after");
            }
            else
            {
                break;
            }
        }

        Assert.Equal(["before", "after"], received);
        Assert.Contains(_server.Requests, r => r.Path == $"{Core}/pods/{id}-0/log" && r.QueryValues.GetValueOrDefault("follow") == "true");
    }

    [Fact]
    public async Task GetUsageAsync_ReturnsNull_WhenTheMetricsApiIsAbsent()
    {
        var id = NewId();
        var handle = await StartedAsync(id);

        Assert.Null(await _runtime.GetUsageAsync(id, handle, Spec()));
        Assert.Contains(_server.Requests, r => r.Path == $"/apis/metrics.k8s.io/v1beta1/namespaces/{Ns}/pods" && r.QueryValues["labelSelector"] == $"metanode.io/vpod-id={id}");
    }

    [Fact]
    public async Task GetUsageAsync_SumsPodMetrics_WhenTheMetricsApiAnswers()
    {
        var id = NewId();
        var handle = await StartedAsync(id);
        _server.MetricsAvailable = true;
        foreach (var (pod, cpu, memory) in new[] { ("0", "250m", "100Mi"), ("1", "50000000n", "28Mi") })
        {
            _server.Put($"/apis/metrics.k8s.io/v1beta1/namespaces/{Ns}/pods", JsonNode.Parse($$$"""
                {"apiVersion":"metrics.k8s.io/v1beta1","kind":"PodMetrics","metadata":{"name":"{{{id}}}-{{{pod}}}","labels":{"metanode.io/vpod-id":"{{{id}}}"}},
                 "timestamp":"2026-01-01T00:00:00Z","window":"10s","containers":[{"name":"workload","usage":{"cpu":"{{{cpu}}}","memory":"{{{memory}}}"}}]}
                """)!.AsObject());
        }

        var usage = await _runtime.GetUsageAsync(id, handle, Spec());

        Assert.NotNull(usage);
        Assert.Equal(30.0, usage.CpuPercent, 3);
        Assert.Equal(128L << 20, usage.MemoryBytes);
        Assert.Equal(2 * (256L << 20), usage.MemoryLimitBytes);
    }

    [Fact]
    public async Task ProvisionAsync_NamesTheMissingSettings_WhenNothingIsConfigured()
    {
        await using var runtime = new KubernetesRuntime(Options.Create(new KubernetesRuntimeOptions()), NullLogger<KubernetesRuntime>.Instance);

        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => runtime.ProvisionAsync(NewId(), Spec()));

        Assert.Contains("MetaNode:Runtime:Kubernetes:BaseUrl", error.Message, StringComparison.Ordinal);
        Assert.Contains("KubeConfigPath", error.Message, StringComparison.Ordinal);
    }

    private async Task<RuntimeHandle> StartedAsync(string id)
    {
        await _runtime.ProvisionAsync(id, Spec());
        return await _runtime.StartAsync(id, Spec(), null);
    }

    /// <summary>A pod as the ReplicaSet controller and kubelet would report it.</summary>
    private static V1Pod Pod(string id, string suffix, bool running) => new()
    {
        ApiVersion = "v1",
        Kind = "Pod",
        Metadata = new V1ObjectMeta
        {
            Name = $"{id}-{suffix}",
            Labels = new Dictionary<string, string> { ["metanode.io/vpod-id"] = id, ["app.kubernetes.io/managed-by"] = "metanode" },
        },
        Status = new V1PodStatus
        {
            Phase = running ? "Running" : "Pending",
            Conditions = [new V1PodCondition { Type = "Ready", Status = running ? "True" : "False" }],
            ContainerStatuses =
            [
                new V1ContainerStatus
                {
                    Name = "workload",
                    Image = "metanode/compute-vpod:latest",
                    ImageID = string.Empty,
                    Ready = running,
                    RestartCount = 0,
                    State = running ? new V1ContainerState { Running = new V1ContainerStateRunning { StartedAt = DateTime.UtcNow } } : new V1ContainerState(),
                },
            ],
        },
    };

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task ProvisionAsync_PutsEveryObjectInTheVPodNamespace_WithARestrictedPodTemplate(bool persistent)
    {
        await using var runtime = Runtime(new KubernetesRuntimeOptions { SiloNamespace = "metanode" });
        var id = NewId();
        var spec = Spec("metanode-silo") with { HighAvailability = true, NetworkPolicy = new NetworkPolicySpec(), PersistentStorage = persistent ? new StorageRequest(64L << 20) : null };

        var handle = await runtime.ProvisionAsync(id, spec);
        await runtime.StartAsync(id, spec, handle);

        Assert.Equal(("vpods", "metanode"), (runtime.Namespace, runtime.SiloNamespace));
        Assert.NotEmpty(_server.Requests);
        Assert.All(_server.Requests, r => Assert.Contains("/namespaces/vpods/", r.Path + "/", StringComparison.Ordinal));
        var workload = _server.Get($"{Apps}/{(persistent ? "statefulsets" : "deployments")}/{id}")!;
        Assert.Equal(Ns, workload["metadata"]!["namespace"]!.GetValue<string>());
        var template = workload["spec"]!["template"]!;
        var pod = template["spec"]!;
        Assert.True(pod["securityContext"]!["runAsNonRoot"]!.GetValue<bool>());
        Assert.Equal((65532L, 65532L, 65532L), (pod["securityContext"]!["runAsUser"]!.GetValue<long>(), pod["securityContext"]!["runAsGroup"]!.GetValue<long>(), pod["securityContext"]!["fsGroup"]!.GetValue<long>()));
        Assert.Equal("RuntimeDefault", pod["securityContext"]!["seccompProfile"]!["type"]!.GetValue<string>());
        Assert.False(pod["automountServiceAccountToken"]!.GetValue<bool>());
        var container = pod["containers"]![0]!["securityContext"]!;
        Assert.False(container["allowPrivilegeEscalation"]!.GetValue<bool>());
        Assert.True(container["readOnlyRootFilesystem"]!.GetValue<bool>());
        Assert.Equal(["ALL"], container["capabilities"]!["drop"]!.AsArray().Select(c => c!.GetValue<string>()));
        Assert.DoesNotContain("hostPath", pod.ToJsonString(), StringComparison.Ordinal);

        // The vPod's name is a label of its own: nothing it carries is a label the silos are selected by.
        var labels = template["metadata"]!["labels"]!.AsObject();
        Assert.Equal(("metanode-silo", "vpod"), (labels["metanode.io/vpod-name"]!.GetValue<string>(), labels["app.kubernetes.io/component"]!.GetValue<string>()));
        Assert.False(labels.ContainsKey("app.kubernetes.io/name") || labels.ContainsKey("app.kubernetes.io/part-of"));

        // The silos may still probe it: its policy admits the silo pods of the silos' namespace.
        var from = _server.Get($"/apis/networking.k8s.io/v1/namespaces/{Ns}/networkpolicies/{id}")!["spec"]!["ingress"]![0]!["from"]!.AsArray();
        var silos = Assert.Single(from)!;
        Assert.Equal("metanode", silos["namespaceSelector"]!["matchLabels"]!["kubernetes.io/metadata.name"]!.GetValue<string>());
        Assert.Equal("silo", silos["podSelector"]!["matchLabels"]!["app.kubernetes.io/component"]!.GetValue<string>());
    }

    [Theory]
    [InlineData("/var/lib/postgresql/data")]
    [InlineData("data-metanode-postgres-0")]
    public async Task ValidateSpec_RefusesAHostPathOrAForeignClaim_WithoutAnyRequest(string source)
    {
        var spec = Spec() with { Volumes = [new VolumeMount(source, "/data")] };

        var error = Assert.Throws<InvalidVPodSpecException>(() => _runtime.ValidateSpec(NewId(), spec));

        Assert.Contains($"volume '{source}:/data' is refused", error.Message, StringComparison.Ordinal);
        await Assert.ThrowsAsync<InvalidVPodSpecException>(() => _runtime.ProvisionAsync(NewId(), spec));
        Assert.Empty(_server.Requests);
    }

    [Fact]
    public async Task ProvisionAsync_RefusesToRunVPodsInTheSilosNamespace()
    {
        await using var runtime = Runtime(new KubernetesRuntimeOptions { SiloNamespace = Ns });

        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => runtime.ProvisionAsync(NewId(), Spec()));

        Assert.Contains($"will not run vPods in the silos' namespace '{Ns}'", error.Message, StringComparison.Ordinal);
        Assert.Empty(_server.Requests);
    }
}

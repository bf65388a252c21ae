using System.Reflection;
using k8s;
using k8s.Models;
using MetaNode.Grains.Runtime.Kubernetes;
using MetaNode.Silo.Hosting;
using MetaNode.Tests.Infrastructure;
using MetaNode.VPods;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace MetaNode.Tests.Kubernetes;

/// <summary>deploy/k8s rendered by kubectl kustomize: validated twice (API schemas, strict parsing) and checked against the silo's own configuration and the runtime's API calls.</summary>
public sealed class KubernetesManifestTests
{
    private static readonly Lazy<string> Base = new(() => ManifestRendering.Render());
    private static readonly Lazy<string> Autoscaling = new(() => ManifestRendering.Render("deploy/k8s/overlays/autoscaling"));

    private static List<object> Objects(string text) => KubernetesYaml.LoadAllFromString(text, strict: true);

    private static T Single<T>(IEnumerable<object> objects, string name)
        where T : IMetadata<V1ObjectMeta> =>
        objects.OfType<T>().Single(o => o.Metadata.Name == name);

    private static V1StatefulSet Silo => Single<V1StatefulSet>(Objects(Base.Value), "metanode-silo");

    private static V1Container SiloContainer => Silo.Spec.Template.Spec.Containers.Single(c => c.Name == "silo");

    [Fact]
    public async Task Render_PassesTheSchemaValidator_ForTheInstallAndTheAutoscalingOverlay()
    {
        var directory = Directory.CreateTempSubdirectory("metanode-k8s-");
        try
        {
            var files = new[] { Path.Combine(directory.FullName, "install.yaml"), Path.Combine(directory.FullName, "autoscaling.yaml") };
            await File.WriteAllTextAsync(files[0], Base.Value);
            await File.WriteAllTextAsync(files[1], Autoscaling.Value);

            var (code, output) = await ManifestRendering.ValidateWithSchemasAsync(files);

            Assert.True(code == 0, $"kubernetes-models rejected the manifests:\n{output}");
            Assert.Contains("valid apps/v1 StatefulSet/metanode/metanode-silo", output, StringComparison.Ordinal);
            Assert.Contains("valid autoscaling/v2 HorizontalPodAutoscaler/metanode/metanode-silo", output, StringComparison.Ordinal);
        }
        finally
        {
            directory.Delete(recursive: true);
        }
    }

    [Fact]
    public async Task SchemaValidator_RejectsAMissingRequiredFieldAndAWrongType()
    {
        var file = Path.Combine(Directory.CreateTempSubdirectory("metanode-k8s-").FullName, "bad.yaml");
        await File.WriteAllTextAsync(file, "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: bad\nspec:\n  replicas: three\n  template: {}\n");

        var (code, output) = await ManifestRendering.ValidateWithSchemasAsync(file);

        Assert.Equal(1, code);
        Assert.Contains("selector", output, StringComparison.Ordinal);
        Assert.Contains("/spec/replicas must be integer", output, StringComparison.Ordinal);
        Directory.Delete(Path.GetDirectoryName(file)!, recursive: true);
    }

    [Fact]
    public void Render_ParsesStrictly_WithNoUnknownField()
    {
        var install = Objects(Base.Value);
        var autoscaling = Objects(Autoscaling.Value);

        Assert.Equal(Base.Value.Split("\n---", StringSplitOptions.RemoveEmptyEntries).Length, install.Count);
        Assert.Single(autoscaling.OfType<V2HorizontalPodAutoscaler>());
        Assert.Equal(install.Count + 1, autoscaling.Count);
        var error = Assert.ThrowsAny<Exception>(() => KubernetesYaml.LoadAllFromString(
            "apiVersion: v1\nkind: Service\nmetadata:\n  name: x\nspec:\n  portz: []\n", strict: true));
        Assert.Contains("portz", error.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void Render_PutsTheSilosInMetanode_AndOnlyTheRuntimesRbacInTheVPodNamespace()
    {
        foreach (var objects in new[] { Objects(Base.Value), Objects(Autoscaling.Value) })
        {
            Assert.Equal(["metanode", VPodNamespace], objects.OfType<V1Namespace>().Select(n => n.Metadata.Name).Order(StringComparer.Ordinal));
            foreach (var item in objects.Cast<IMetadata<V1ObjectMeta>>().Where(o => o is not V1Namespace))
            {
                var expected = item is V1Role or V1RoleBinding ? VPodNamespace : "metanode";
                Assert.True(item.Metadata.NamespaceProperty == expected, $"{item.GetType().Name} {item.Metadata.Name} is in namespace '{item.Metadata.NamespaceProperty}', not '{expected}'");
            }
        }
    }

    [Fact]
    public void VPodNamespace_IsTheRuntimes_AndEnforcesTheRestrictedPodSecurityStandard()
    {
        var runtime = RuntimeOptions();
        Assert.Equal((VPodNamespace, "metanode"), KubernetesRuntime.Namespaces(runtime, connectionNamespace: "metanode"));

        var labels = Single<V1Namespace>(Objects(Base.Value), VPodNamespace).Metadata.Labels;
        foreach (var mode in new[] { "enforce", "audit", "warn" })
        {
            Assert.Equal("restricted", labels[$"pod-security.kubernetes.io/{mode}"]);
        }
    }

    [Theory]
    [InlineData("metanode-silo", "app=metanode-silo,component=silo,part-of=metanode")]
    [InlineData("metanode-postgres", "app=metanode-postgres,component=database,name=metanode-postgres")]
    [InlineData("worker", "team=ml")]
    public void VPodPods_MatchNoSelectorOfTheInstall_WhateverTheirNameAndLabels(string name, string labels)
    {
        var pod = VPodPodLabels(name, labels);
        var objects = Objects(Base.Value);

        foreach (var service in objects.OfType<V1Service>())
        {
            Assert.False(LabelSelectorMatcher.Matches(service.Spec.Selector, pod), $"Service {service.Metadata.Name} selects the vPod '{name}'");
        }

        foreach (var set in objects.OfType<V1StatefulSet>())
        {
            Assert.False(LabelSelectorMatcher.Matches(set.Spec.Selector, pod), $"StatefulSet {set.Metadata.Name} selects the vPod '{name}'");
        }

        foreach (var budget in objects.OfType<V1PodDisruptionBudget>())
        {
            Assert.False(LabelSelectorMatcher.Matches(budget.Spec.Selector, pod), $"PodDisruptionBudget {budget.Metadata.Name} selects the vPod '{name}'");
        }

        foreach (var policy in objects.OfType<V1NetworkPolicy>())
        {
            Assert.False(LabelSelectorMatcher.Matches(policy.Spec.PodSelector, pod), $"NetworkPolicy {policy.Metadata.Name} selects the vPod '{name}'");
        }

        // The silo pods themselves are matched by all of these (the checks above are not vacuous).
        Assert.True(LabelSelectorMatcher.Matches(Single<V1Service>(objects, "metanode-silo").Spec.Selector, Silo.Spec.Template.Metadata.Labels));
        Assert.True(LabelSelectorMatcher.Matches(Silo.Spec.Selector, Silo.Spec.Template.Metadata.Labels));
    }

    [Fact]
    public void SiloAndPostgresPolicies_AdmitNoPodOfTheVPodNamespace_ToAnyOfTheirPorts()
    {
        var objects = Objects(Base.Value);
        var vpod = new LabelSelectorMatcher.Pod(VPodNamespace, NamespaceLabels(objects, VPodNamespace), VPodPodLabels("metanode-silo", "app=metanode-silo"));
        var silo = new LabelSelectorMatcher.Pod("metanode", NamespaceLabels(objects, "metanode"), Silo.Spec.Template.Metadata.Labels);
        var siloPolicy = Single<V1NetworkPolicy>(objects, "metanode-silo");
        var postgresPolicy = Single<V1NetworkPolicy>(objects, "metanode-postgres");
        Assert.True(LabelSelectorMatcher.Matches(siloPolicy.Spec.PodSelector, Silo.Spec.Template.Metadata.Labels));

        foreach (var (port, number) in new[] { ("silo", 11111), ("gateway", 30000), ("http", 8080) })
        {
            Assert.False(LabelSelectorMatcher.Admits(siloPolicy, "metanode", port, number, vpod), $"the silo policy admits a vPod to the {port} port");
        }

        Assert.False(LabelSelectorMatcher.Admits(postgresPolicy, "metanode", "postgres", 5432, vpod), "the PostgreSQL policy admits a vPod");

        // What must still pass: silo to silo, silo to PostgreSQL, a pod of the silos' namespace to the gateway.
        Assert.True(LabelSelectorMatcher.Admits(siloPolicy, "metanode", "silo", 11111, silo));
        Assert.True(LabelSelectorMatcher.Admits(siloPolicy, "metanode", "gateway", 30000, silo));
        Assert.True(LabelSelectorMatcher.Admits(postgresPolicy, "metanode", "postgres", 5432, silo));
    }

    [Fact]
    public void VPodPolicy_AdmitsTheSiloPods_SoTheSilosCanProbeTheWorkload()
    {
        var objects = Objects(Base.Value);
        var runtime = RuntimeOptions();
        var spec = new VPodSpec { Name = "worker", DeploymentMethod = DeploymentMethod.Kubernetes, Image = "metanode/compute-vpod:latest", Ports = [8080], NetworkPolicy = new NetworkPolicySpec() };
        var policy = KubernetesWorkloadBuilder.Build("vpod-probe001", spec, runtime, VPodNamespace, 1, runtime.SiloNamespace).NetworkPolicy!;
        var silo = new LabelSelectorMatcher.Pod("metanode", NamespaceLabels(objects, "metanode"), Silo.Spec.Template.Metadata.Labels);
        var otherVPod = new LabelSelectorMatcher.Pod(VPodNamespace, NamespaceLabels(objects, VPodNamespace), VPodPodLabels("other", "team=ml"));

        Assert.True(LabelSelectorMatcher.Admits(policy, VPodNamespace, "port-8080", 8080, silo), "the vPod policy must admit the silos (health probes)");
        Assert.False(LabelSelectorMatcher.Admits(policy, VPodNamespace, "port-8080", 8080, otherVPod));
    }

    [Fact]
    public void Selectors_MatchThePodLabels_OfEveryWorkload()
    {
        var objects = Objects(Base.Value);
        var templates = objects.OfType<V1StatefulSet>().Select(s => (s.Metadata.Name, s.Spec.Selector.MatchLabels, s.Spec.Template)).ToList();
        foreach (var (name, selector, template) in templates)
        {
            Assert.True(Matches(selector, template.Metadata.Labels), $"StatefulSet {name}: selector does not match its pod labels");
        }

        bool SelectsAPod(IDictionary<string, string> selector) => templates.Any(t => Matches(selector, t.Template.Metadata.Labels));
        foreach (var service in objects.OfType<V1Service>())
        {
            Assert.True(SelectsAPod(service.Spec.Selector), $"Service {service.Metadata.Name} selects no pod");
            var pod = templates.First(t => Matches(service.Spec.Selector, t.Template.Metadata.Labels)).Template.Spec;
            foreach (var port in service.Spec.Ports)
            {
                Assert.True(pod.Containers.Any(c => c.Ports.Any(p => p.Name == port.TargetPort.Value)), $"Service {service.Metadata.Name}: target port '{port.TargetPort.Value}' is not a named container port");
            }
        }

        foreach (var budget in objects.OfType<V1PodDisruptionBudget>())
        {
            Assert.True(SelectsAPod(budget.Spec.Selector.MatchLabels), $"PodDisruptionBudget {budget.Metadata.Name} selects no pod");
        }

        foreach (var policy in objects.OfType<V1NetworkPolicy>())
        {
            Assert.True(SelectsAPod(policy.Spec.PodSelector.MatchLabels), $"NetworkPolicy {policy.Metadata.Name} selects no pod");
        }

        foreach (var set in objects.OfType<V1StatefulSet>())
        {
            var governing = objects.OfType<V1Service>().Single(s => s.Metadata.Name == set.Spec.ServiceName);
            Assert.Equal("None", governing.Spec.ClusterIP);
        }

        var hpa = Objects(Autoscaling.Value).OfType<V2HorizontalPodAutoscaler>().Single();
        Assert.Equal(("StatefulSet", "metanode-silo"), (hpa.Spec.ScaleTargetRef.Kind, hpa.Spec.ScaleTargetRef.Name));
    }

    [Fact]
    public void SiloPorts_AreTheOnesTheSiloListensOn_WithTheConfigMapAndPodEnvironment()
    {
        var options = SiloConfiguration().ReadMetaNodeOptions();

        var ports = SiloContainer.Ports.ToDictionary(p => p.Name, p => p.ContainerPort);
        Assert.Equal(options.SiloPort, ports["silo"]);
        Assert.Equal(options.GatewayPort, ports["gateway"]);
        Assert.True(MetaNodeSiloOptionsValidator.TryParseHostPort(options.HttpAddress, out var host, out var httpPort));
        Assert.Equal(("0.0.0.0", httpPort), (host, ports["http"]));
        Assert.Equal((SiloProfile.Cluster, true, "10.244.1.7"), (options.Profile, options.Kubernetes.Enabled, options.AdvertisedAddress));
        Assert.Equal((new MetaNodeSiloOptions().SiloPort, new MetaNodeSiloOptions().GatewayPort), (options.SiloPort, options.GatewayPort));
    }

    [Fact]
    public void SiloEnvironment_SetsWhatTheSiloReads_AndNothingItIgnores()
    {
        var env = SiloContainer.Env.ToDictionary(e => e.Name);
        Assert.Equal("status.podIP", env[KubernetesHostingOptions.PodIpVariable].ValueFrom.FieldRef.FieldPath);
        Assert.Equal("metadata.name", env[KubernetesHostingOptions.PodNameVariable].ValueFrom.FieldRef.FieldPath);
        Assert.Equal("metadata.namespace", env[KubernetesHostingOptions.PodNamespaceVariable].ValueFrom.FieldRef.FieldPath);
        var secret = env["MetaNode__Database__ConnectionString"].ValueFrom.SecretKeyRef;
        Assert.Equal(("metanode-database", "connection-string"), (secret.Name, secret.Key));
        var postgres = Single<V1StatefulSet>(Objects(Base.Value), "metanode-postgres").Spec.Template.Spec.Containers[0].Env.Single(e => e.Name == "POSTGRES_PASSWORD");
        Assert.Equal("metanode-database", postgres.ValueFrom.SecretKeyRef.Name);

        Assert.Equal("metanode-silo", Assert.Single(SiloContainer.EnvFrom).ConfigMapRef.Name);
        var config = Single<V1ConfigMap>(Objects(Base.Value), "metanode-silo");
        foreach (var key in config.Data.Keys.Concat(env.Keys.Where(k => k.StartsWith("MetaNode__", StringComparison.Ordinal))))
        {
            Assert.True(IsReadBySilo(key.Split("__")), $"the silo reads no setting '{key.Replace("__", ":", StringComparison.Ordinal)}'");
        }

        var runtime = new KubernetesRuntimeOptions();
        SiloConfiguration().GetSection(KubernetesRuntimeOptions.SectionName).Bind(runtime);
        Assert.True(new KubernetesRuntimeOptionsValidator().Validate(null, runtime).Succeeded);
        Assert.Equal(KubernetesConnection.InCluster, runtime.Connection);
        Assert.True(KubernetesNames.TryParseSelector(runtime.SiloSelector, out var silos, out _));
        Assert.True(Matches(silos.ToDictionary(), Silo.Spec.Template.Metadata.Labels), "the vPods' network policies must admit the silo pods");
    }

    [Fact]
    public void SiloProbes_HitHealthzOnTheHttpPort_AndShutdownHasMoreGraceThanTheHost()
    {
        var container = SiloContainer;
        foreach (var probe in new[] { container.StartupProbe, container.ReadinessProbe, container.LivenessProbe })
        {
            Assert.NotNull(probe);
            Assert.Equal(("/healthz", "http"), (probe.HttpGet.Path, probe.HttpGet.Port.Value));
        }

        Assert.True(Silo.Spec.Template.Spec.TerminationGracePeriodSeconds > new HostOptions().ShutdownTimeout.TotalSeconds);
        Assert.Equal("metanode-silo", Silo.Spec.Template.Spec.ServiceAccountName);
    }

    [Fact]
    public async Task Rbac_GrantsExactlyTheRequestsTheKubernetesRuntimeMakes()
    {
        var used = await RequestsOfAFullLifecycleAsync();
        var objects = Objects(Base.Value);

        // Every request goes to the vPods' namespace: that is the only place the silos are granted anything.
        Assert.Equal([VPodNamespace], used.Select(u => u.Namespace).Distinct());
        var role = Assert.Single(objects.OfType<V1Role>());
        Assert.Equal(("metanode-silo", VPodNamespace), (role.Metadata.Name, role.Metadata.NamespaceProperty));
        var granted = role.Rules
            .SelectMany(r => r.ApiGroups.SelectMany(g => r.Resources.SelectMany(res => r.Verbs.Select(v => (Group: g, Resource: res, Verb: v)))))
            .ToHashSet();

        var requested = used.Select(u => (u.Group, u.Resource, u.Verb)).ToHashSet();
        var missing = requested.Except(granted).ToList();
        var unused = granted.Except(requested).ToList();
        Assert.True(missing.Count == 0, "the Role lacks: " + string.Join(", ", missing));
        Assert.True(unused.Count == 0, "the Role grants what the runtime never asks for: " + string.Join(", ", unused));

        var binding = Assert.Single(objects.OfType<V1RoleBinding>());
        Assert.Equal(("Role", "metanode-silo", VPodNamespace), (binding.RoleRef.Kind, binding.RoleRef.Name, binding.Metadata.NamespaceProperty));
        Assert.Contains(binding.Subjects, s => s.Kind == "ServiceAccount" && s.Name == Silo.Spec.Template.Spec.ServiceAccountName && s.NamespaceProperty == Silo.Metadata.NamespaceProperty);
        Assert.Single(objects.OfType<V1ServiceAccount>(), a => a.Metadata.Name == Silo.Spec.Template.Spec.ServiceAccountName);
    }

    /// <summary>Drives the runtime through everything it does (both workload kinds, conflicts, watch, logs, usage, stop, delete) and returns the RBAC triples of its requests.</summary>
    private static async Task<HashSet<(string Namespace, string Group, string Resource, string Verb)>> RequestsOfAFullLifecycleAsync()
    {
        await using var server = await FakeKubernetesApiServer.StartAsync();
        var options = RuntimeOptions();
        options.BaseUrl = server.BaseUrl.ToString();
        options.Connection = KubernetesConnection.BaseUrl;
        await using var runtime = new KubernetesRuntime(Options.Create(options), NullLogger<KubernetesRuntime>.Instance);
        var ns = runtime.Namespace;
        var spec = new VPodSpec
        {
            Name = "rbac",
            DeploymentMethod = DeploymentMethod.Kubernetes,
            Image = "metanode/compute-vpod:latest",
            Ports = [8080],
            HighAvailability = true,
            NetworkPolicy = new NetworkPolicySpec { IngressFrom = ["role=client"] },
        };
        foreach (var (id, vpod) in new[] { ("vpod-rbac0001", spec), ("vpod-rbac0002", spec with { Name = "rbac-data", PersistentStorage = new StorageRequest(64L << 20) }) })
        {
            await runtime.ProvisionAsync(id, vpod);
            await runtime.ProvisionAsync(id, vpod);
            var handle = await runtime.StartAsync(id, vpod, null);
            if (vpod.PersistentStorage is not null)
            {
                // The StatefulSet controller makes a claim per replica from the template, labelled like the template.
                server.Put($"/api/v1/namespaces/{ns}/persistentvolumeclaims", new V1PersistentVolumeClaim
                {
                    Metadata = new V1ObjectMeta { Name = $"data-{id}-0", Labels = new Dictionary<string, string> { ["metanode.io/vpod-id"] = id } },
                });
            }

            server.Put($"/api/v1/namespaces/{ns}/pods", new V1Pod
            {
                Metadata = new V1ObjectMeta { Name = id + "-0", Labels = new Dictionary<string, string> { ["metanode.io/vpod-id"] = id, ["app.kubernetes.io/managed-by"] = "metanode" } },
                Status = new V1PodStatus { Phase = "Running", ContainerStatuses = [new V1ContainerStatus { Name = "workload", State = new V1ContainerState { Running = new V1ContainerStateRunning() } }] },
            });
            await Eventually.WaitAsync(() => runtime.InspectAsync(id, handle), o => o.State == MetaNode.Grains.Runtime.WorkloadState.Running, "the pod to be seen");
            server.AppendPodLog(ns, id + "-0", DateTimeOffset.UtcNow, "hello");
            await runtime.ReadLogsAsync(id, handle, new LogQuery(Tail: 10));
            using (var cancel = new CancellationTokenSource(TimeSpan.FromSeconds(30)))
            {
                await foreach (var _ in runtime.FollowLogsAsync(id, handle, new LogQuery(), cancel.Token))
                {
                    break;
                }
            }

            await runtime.GetUsageAsync(id, handle, vpod);
            await runtime.StopAsync(id, handle, TimeSpan.FromSeconds(1), force: false);
            await runtime.RemoveAsync(id, handle);
        }

        return server.Requests.Select(ToRbac).ToHashSet();
    }

    private static (string Namespace, string Group, string Resource, string Verb) ToRbac(FakeKubernetesApiServer.RecordedRequest request)
    {
        var parts = request.Path.Trim('/').Split('/');
        var (group, ns, rest) = parts[0] == "api" ? (string.Empty, parts[3], parts[4..]) : (parts[1], parts[4], parts[5..]);
        var resource = rest.Length > 2 ? $"{rest[0]}/{rest[2]}" : rest[0];
        var named = rest.Length > 1;
        var verb = request.Method switch
        {
            "POST" => "create",
            "PATCH" => "patch",
            "PUT" => "update",
            "DELETE" => named ? "delete" : "deletecollection",
            _ when named => "get",
            _ when request.QueryValues.GetValueOrDefault("watch") == "true" => "watch",
            _ => "list",
        };
        return (ns, group, resource, verb);
    }

    /// <summary>The vPods' namespace as the silo's ConfigMap names it.</summary>
    private static string VPodNamespace => RuntimeOptions().Namespace!;

    /// <summary>The kubernetes runtime's options in the silo pod: the ConfigMap's, and the silos' namespace from POD_NAMESPACE (as the silo's hosting sets it).</summary>
    private static KubernetesRuntimeOptions RuntimeOptions()
    {
        var configuration = SiloConfiguration();
        var options = new KubernetesRuntimeOptions();
        configuration.GetSection(KubernetesRuntimeOptions.SectionName).Bind(options);
        options.SiloNamespace ??= configuration[KubernetesHostingOptions.PodNamespaceVariable];
        return options;
    }

    /// <summary>The labels of a namespace: its own, and the name label Kubernetes adds to every namespace.</summary>
    private static Dictionary<string, string> NamespaceLabels(IEnumerable<object> objects, string name) =>
        new(Single<V1Namespace>(objects, name).Metadata.Labels ?? new Dictionary<string, string>()) { ["kubernetes.io/metadata.name"] = name };

    /// <summary>The labels of a vPod's pods as the runtime, configured as in the silo pod, builds them; <paramref name="labels"/> are the spec's.</summary>
    private static IDictionary<string, string> VPodPodLabels(string name, string labels)
    {
        var spec = new VPodSpec
        {
            Name = name,
            DeploymentMethod = DeploymentMethod.Kubernetes,
            Image = "metanode/compute-vpod:latest",
            Labels = labels.Split(',').Select(l => l.Split('=')).ToDictionary(p => p[0], p => p[1]),
        };
        Assert.Empty(VPodSpecValidation.Validate(spec));
        var runtime = RuntimeOptions();
        return KubernetesWorkloadBuilder.Build("vpod-" + name, spec, runtime, VPodNamespace, 1, runtime.SiloNamespace).Deployment!.Spec.Template.Metadata.Labels;
    }

    /// <summary>The silo's configuration in the pod: the ConfigMap, the container's env (downward API and Secret filled in) as the environment provider maps them.</summary>
    private static IConfiguration SiloConfiguration()
    {
        var values = new Dictionary<string, string?>(StringComparer.OrdinalIgnoreCase);
        foreach (var (key, value) in Single<V1ConfigMap>(Objects(Base.Value), "metanode-silo").Data)
        {
            values[key.Replace("__", ":", StringComparison.Ordinal)] = value;
        }

        foreach (var env in SiloContainer.Env)
        {
            values[env.Name.Replace("__", ":", StringComparison.Ordinal)] = env.ValueFrom?.FieldRef?.FieldPath switch
            {
                "status.podIP" => "10.244.1.7",
                "metadata.name" => "metanode-silo-0",
                "metadata.namespace" => "metanode",
                _ when env.ValueFrom?.SecretKeyRef is not null => "Host=metanode-postgres;Database=metanode;Username=metanode",
                _ => env.Value,
            };
        }

        return new ConfigurationBuilder().AddInMemoryCollection(values).Build();
    }

    /// <summary>Whether a setting path (e.g. MetaNode, Database, ConnectionString) names a property of the silo's or the runtime's options.</summary>
    private static bool IsReadBySilo(string[] path)
    {
        if (path.Length < 2 || path[0] != MetaNodeSiloOptions.SectionName)
        {
            return false;
        }

        var (type, rest) = path is [_, "Runtime", "Kubernetes", ..] ? (typeof(KubernetesRuntimeOptions), path[3..]) : (typeof(MetaNodeSiloOptions), path[1..]);
        foreach (var segment in rest)
        {
            var property = type.GetProperty(segment, BindingFlags.Public | BindingFlags.Instance | BindingFlags.IgnoreCase);
            if (property is null)
            {
                return false;
            }

            type = property.PropertyType;
        }

        return rest.Length > 0;
    }

    private static bool Matches(IDictionary<string, string> selector, IDictionary<string, string> labels) => LabelSelectorMatcher.Matches(selector, labels);
}

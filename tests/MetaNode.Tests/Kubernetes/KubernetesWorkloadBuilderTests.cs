using MetaNode.Grains.Runtime.Kubernetes;
using MetaNode.VPods;

namespace MetaNode.Tests.Kubernetes;

public sealed class KubernetesWorkloadBuilderTests
{
    private const string Id = "vpod-1a2b3c4d";
    private static readonly KubernetesRuntimeOptions Options = new();

    private static VPodSpec Spec() => new()
    {
        Name = "trainer",
        Type = VPodType.Validator,
        DeploymentMethod = DeploymentMethod.Kubernetes,
        Image = "registry.example/metanode/compute-vpod:1.2",
        Command = ["/app/workload", "--verbose"],
        CpuMillis = 1500,
        MemoryBytes = 512L * 1024 * 1024,
        Ports = [8080, 9090],
        Env = new Dictionary<string, string> { ["MODE"] = "train", ["METANODE_HOST"] = "ignored" },
        Labels = new Dictionary<string, string> { ["team"] = "ml" },
        ImagePullSecrets = ["regcred"],
        Replicas = 2,
        Cluster = "fed-1",
    };

    [Fact]
    public void Build_MakesADeployment_WithEveryFieldOfTheSpec()
    {
        var workload = KubernetesWorkloadBuilder.Build(Id, Spec(), Options, "ml", replicas: 2);

        Assert.Equal((KubernetesWorkloadKind.Deployment, Id, "ml"), (workload.Kind, workload.Name, workload.Namespace));
        Assert.Null(workload.StatefulSet);
        var deployment = workload.Deployment!;
        Assert.Equal(("apps/v1", "Deployment", Id, "ml"), (deployment.ApiVersion, deployment.Kind, deployment.Metadata.Name, deployment.Metadata.NamespaceProperty));
        Assert.Equal(2, deployment.Spec.Replicas);
        Assert.Equal(new Dictionary<string, string> { ["metanode.io/vpod-id"] = Id }, deployment.Spec.Selector.MatchLabels);

        var expectedLabels = new Dictionary<string, string>
        {
            ["team"] = "ml",
            ["metanode.io/vpod-id"] = Id,
            ["metanode.io/vpod-type"] = "validator",
            ["metanode.io/cluster"] = "fed-1",
            ["metanode.io/vpod-name"] = "trainer",
            ["app.kubernetes.io/managed-by"] = "metanode",
            ["app.kubernetes.io/component"] = "vpod",
        };
        Assert.Equal(expectedLabels.OrderBy(l => l.Key), deployment.Metadata.Labels.OrderBy(l => l.Key));
        Assert.Equal(expectedLabels.OrderBy(l => l.Key), deployment.Spec.Template.Metadata.Labels.OrderBy(l => l.Key));

        var pod = deployment.Spec.Template.Spec;
        Assert.Equal(("Always", 30L, false, false), (pod.RestartPolicy, pod.TerminationGracePeriodSeconds, pod.AutomountServiceAccountToken, pod.EnableServiceLinks));
        Assert.Equal(["regcred"], pod.ImagePullSecrets.Select(s => s.Name));
        Assert.Null(pod.Affinity);
        var container = Assert.Single(pod.Containers);
        Assert.Equal(("workload", "registry.example/metanode/compute-vpod:1.2"), (container.Name, container.Image));
        Assert.Equal(["/app/workload", "--verbose"], container.Command);
        Assert.Equal("1500m", container.Resources.Limits["cpu"].ToString());
        Assert.Equal("512Mi", container.Resources.Limits["memory"].ToString());
        Assert.Equal("1500m", container.Resources.Requests["cpu"].ToString());
        Assert.Equal("512Mi", container.Resources.Requests["memory"].ToString());
        Assert.Equal([("port-8080", 8080, "TCP"), ("port-9090", 9090, "TCP")], container.Ports.Select(p => (p.Name, p.ContainerPort, p.Protocol)));
        Assert.Equal(
            [("METANODE_DATA_DIR", "/vpod/data"), ("METANODE_HOST", "0.0.0.0"), ("METANODE_KEY_DIR", "/vpod/key"), ("METANODE_PORT", "8080"), ("METANODE_VPOD_ID", Id), ("METANODE_VPOD_NAME", "trainer"), ("METANODE_VPOD_TYPE", "validator"), ("MODE", "train")],
            container.Env.Select(e => (e.Name, e.Value)));
        Assert.Equal(("/healthz", "port-8080"), (container.ReadinessProbe.HttpGet.Path, container.ReadinessProbe.HttpGet.Port.Value));

        Assert.Equal([("data", "/vpod/data", (bool?)null), ("key", "/vpod/key", null), ("tmp", "/tmp", null)], container.VolumeMounts.Select(m => (m.Name, m.MountPath, m.ReadOnlyProperty)));
        Assert.NotNull(pod.Volumes.Single(v => v.Name == "data").EmptyDir);
        Assert.Equal($"{Id}-key", pod.Volumes.Single(v => v.Name == "key").PersistentVolumeClaim.ClaimName);
        Assert.NotNull(pod.Volumes.Single(v => v.Name == "tmp").EmptyDir);
    }

    [Fact]
    public void Build_LeavesReplicasOut_WhenTheyAreNotToBeChanged()
    {
        var workload = KubernetesWorkloadBuilder.Build(Id, Spec(), Options, "ml", replicas: null);

        Assert.Null(workload.Deployment!.Spec.Replicas);
        Assert.DoesNotContain("replicas", k8s.KubernetesJson.Serialize(workload.Deployment), StringComparison.Ordinal);
    }

    [Fact]
    public void Build_MakesAServicePerPort_AndNoneWithoutPorts()
    {
        var service = KubernetesWorkloadBuilder.Build(Id, Spec(), Options, "ml", 1).Service!;

        Assert.Equal(("v1", "Service", "ClusterIP", Id), (service.ApiVersion, service.Kind, service.Spec.Type, service.Metadata.Name));
        Assert.Equal(new Dictionary<string, string> { ["metanode.io/vpod-id"] = Id }, service.Spec.Selector);
        Assert.Equal([("port-8080", 8080, "port-8080"), ("port-9090", 9090, "port-9090")], service.Spec.Ports.Select(p => (p.Name, p.Port, p.TargetPort.Value)));
        Assert.Null(KubernetesWorkloadBuilder.Build(Id, Spec() with { Ports = [] }, Options, "ml", 1).Service);
    }

    [Fact]
    public void Build_MakesAStatefulSetWithAClaimTemplate_WhenPersistentStorageIsAsked()
    {
        var spec = Spec() with { PersistentStorage = new StorageRequest(10L << 30, "fast-ssd", "/var/lib/vpod") };

        var workload = KubernetesWorkloadBuilder.Build(Id, spec, Options, "ml", 2);

        Assert.Equal(KubernetesWorkloadKind.StatefulSet, workload.Kind);
        Assert.Null(workload.Deployment);
        var set = workload.StatefulSet!;
        Assert.Equal(("apps/v1", "StatefulSet", 2, Id, "Parallel"), (set.ApiVersion, set.Kind, set.Spec.Replicas, set.Spec.ServiceName, set.Spec.PodManagementPolicy));
        Assert.Equal(["data", "key"], set.Spec.VolumeClaimTemplates.Select(c => c.Metadata.Name));
        var claim = set.Spec.VolumeClaimTemplates[0];
        Assert.Equal(("data", "fast-ssd", "10Gi"), (claim.Metadata.Name, claim.Spec.StorageClassName, claim.Spec.Resources.Requests["storage"].ToString()));
        Assert.Equal(["ReadWriteOnce"], claim.Spec.AccessModes);
        Assert.Equal(Id, claim.Metadata.Labels["metanode.io/vpod-id"]);
        var container = set.Spec.Template.Spec.Containers[0];
        Assert.Contains(container.VolumeMounts, m => m.Name == "data" && m.MountPath == "/var/lib/vpod");
        Assert.Contains(container.Env, e => e.Name == "METANODE_DATA_DIR" && e.Value == "/var/lib/vpod");
        Assert.DoesNotContain(set.Spec.Template.Spec.Volumes ?? [], v => v.Name == "data");
        Assert.Null(workload.KeyClaim);
    }

    [Fact]
    public void Build_TakesTheDefaultStorageClass_WhenTheSpecNamesNone()
    {
        var options = new KubernetesRuntimeOptions { DefaultStorageClass = "standard" };
        var claim = KubernetesWorkloadBuilder.Build(Id, Spec() with { PersistentStorage = new StorageRequest(64L << 20) }, options, "ml", 1).StatefulSet!.Spec.VolumeClaimTemplates[0];

        Assert.Equal(("standard", "64Mi"), (claim.Spec.StorageClassName, claim.Spec.Resources.Requests["storage"].ToString()));
        Assert.Null(KubernetesWorkloadBuilder.Build(Id, Spec() with { PersistentStorage = new StorageRequest(64L << 20) }, Options, "ml", 1).StatefulSet!.Spec.VolumeClaimTemplates[0].Spec.StorageClassName);
        Assert.Equal("standard", KubernetesWorkloadBuilder.Build(Id, Spec(), options, "ml", 1).KeyClaim!.Spec.StorageClassName);
        Assert.Null(KubernetesWorkloadBuilder.Build(Id, Spec(), Options, "ml", 1).KeyClaim!.Spec.StorageClassName);
    }

    [Fact]
    public void Build_GivesADeploymentAStandaloneKeyClaim_ThatOutlivesItsPods()
    {
        var spec = Spec() with { Env = new Dictionary<string, string> { ["METANODE_KEY_DIR"] = "/elsewhere" } };

        var workload = KubernetesWorkloadBuilder.Build(Id, spec, Options, "ml", 2);

        // A claim of its own (not an ephemeral or template volume), so pods come and go while the key stays.
        var claim = workload.KeyClaim!;
        Assert.Equal(("v1", "PersistentVolumeClaim", $"{Id}-key", "ml"), (claim.ApiVersion, claim.Kind, claim.Metadata.Name, claim.Metadata.NamespaceProperty));
        Assert.Equal(["ReadWriteOnce"], claim.Spec.AccessModes);
        Assert.Equal("16Mi", claim.Spec.Resources.Requests["storage"].ToString());
        Assert.Null(claim.Metadata.OwnerReferences);
        Assert.Equal(workload.Labels.OrderBy(l => l.Key), claim.Metadata.Labels.OrderBy(l => l.Key));
        Assert.Equal(Id, claim.Metadata.Labels["metanode.io/vpod-id"]);

        var pod = workload.Deployment!.Spec.Template.Spec;
        var volume = Assert.Single(pod.Volumes, v => v.Name == "key");
        Assert.Equal($"{Id}-key", volume.PersistentVolumeClaim.ClaimName);
        Assert.Null(volume.EmptyDir);
        Assert.Null(volume.Ephemeral);
        var container = Assert.Single(pod.Containers);
        Assert.Single(container.VolumeMounts, m => m.Name == "key" && m.MountPath == "/vpod/key" && m.ReadOnlyProperty is null);
        Assert.Equal("/vpod/key", Assert.Single(container.Env, e => e.Name == "METANODE_KEY_DIR").Value);
    }

    [Fact]
    public void Build_AddsAKeyClaimTemplate_ToAStatefulSet_BesideItsDataClaim()
    {
        var spec = Spec() with { PersistentStorage = new StorageRequest(1L << 30, "fast-ssd") };

        var set = KubernetesWorkloadBuilder.Build(Id, spec, Options, "ml", 2).StatefulSet!;

        var key = Assert.Single(set.Spec.VolumeClaimTemplates, c => c.Metadata.Name == "key");
        Assert.Equal(["ReadWriteOnce"], key.Spec.AccessModes);
        Assert.Equal("16Mi", key.Spec.Resources.Requests["storage"].ToString());
        Assert.Null(key.Spec.StorageClassName);
        Assert.Equal(Id, key.Metadata.Labels["metanode.io/vpod-id"]);
        var data = Assert.Single(set.Spec.VolumeClaimTemplates, c => c.Metadata.Name == "data");
        Assert.Equal(("fast-ssd", "1Gi"), (data.Spec.StorageClassName, data.Spec.Resources.Requests["storage"].ToString()));

        // The pods get the volume from the template (one claim per replica, key-{name}-{ordinal}), not from the pod spec.
        var pod = set.Spec.Template.Spec;
        Assert.DoesNotContain(pod.Volumes ?? [], v => v.Name == "key");
        var container = Assert.Single(pod.Containers);
        Assert.Single(container.VolumeMounts, m => m.Name == "key" && m.MountPath == "/vpod/key");
        Assert.Equal("/vpod/key", Assert.Single(container.Env, e => e.Name == "METANODE_KEY_DIR").Value);
    }

    [Fact]
    public void Build_RefusesAVolumeOrStorage_MountedWhereTheKeyGoes()
    {
        var volume = Assert.Throws<InvalidVPodSpecException>(() => KubernetesWorkloadBuilder.Build(Id, Spec() with { Volumes = [new VolumeMount("models", "/vpod/key")] }, Options, "ml", 1));
        var storage = Assert.Throws<InvalidVPodSpecException>(() => KubernetesWorkloadBuilder.Build(Id, Spec() with { PersistentStorage = new StorageRequest(1L << 20, MountPath: "/vpod/key") }, Options, "ml", 1));

        Assert.Contains("volume 'models:/vpod/key' targets the path of the vPod's key volume", volume.Message, StringComparison.Ordinal);
        Assert.Contains("persistent storage mount path '/vpod/key'", storage.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Build_MakesANetworkPolicy_WithIngressFromSelectorsAndSilos_AndAnEgressAllowListWithDns()
    {
        var spec = Spec() with
        {
            NetworkPolicy = new NetworkPolicySpec
            {
                IngressFrom = ["role=aggregator", "app=web,tier=front"],
                EgressTo = ["10.0.0.0/8", "192.0.2.10:443", "[2001:db8::1]:8545"],
            },
        };

        var policy = KubernetesWorkloadBuilder.Build(Id, spec, Options, "ml", 1, siloNamespace: "metanode").NetworkPolicy!;

        Assert.Equal(("networking.k8s.io/v1", "NetworkPolicy", Id), (policy.ApiVersion, policy.Kind, policy.Metadata.Name));
        Assert.Equal(new Dictionary<string, string> { ["metanode.io/vpod-id"] = Id }, policy.Spec.PodSelector.MatchLabels);
        Assert.Equal(["Ingress", "Egress"], policy.Spec.PolicyTypes);
        var ingress = Assert.Single(policy.Spec.Ingress);
        Assert.Equal(
            ["role=aggregator", "app=web,tier=front", "app.kubernetes.io/component=silo,app.kubernetes.io/part-of=metanode"],
            ingress.FromProperty.Select(p => KubernetesNames.FormatSelector(p.PodSelector.MatchLabels.ToDictionary())));

        // The spec's selectors pick pods of the vPods' namespace only; the silos are picked in theirs.
        Assert.Equal([null, null, "kubernetes.io/metadata.name=metanode"], ingress.FromProperty.Select(p => p.NamespaceSelector is null ? null : KubernetesNames.FormatSelector(p.NamespaceSelector.MatchLabels.ToDictionary())));
        Assert.Equal([8080, 9090], ingress.Ports.Select(p => int.Parse(p.Port.Value, System.Globalization.CultureInfo.InvariantCulture)));

        Assert.Equal(4, policy.Spec.Egress.Count);
        var dns = policy.Spec.Egress[0];
        Assert.Null(dns.To);
        Assert.Equal([("UDP", "53"), ("TCP", "53")], dns.Ports.Select(p => (p.Protocol, p.Port.Value)));
        Assert.Equal(("10.0.0.0/8", (string?)null), (policy.Spec.Egress[1].To[0].IpBlock.Cidr, policy.Spec.Egress[1].Ports?.Single().Port.Value));
        Assert.Equal(("192.0.2.10/32", "443"), (policy.Spec.Egress[2].To[0].IpBlock.Cidr, policy.Spec.Egress[2].Ports.Single().Port.Value));
        Assert.Equal(("2001:db8::1/128", "8545"), (policy.Spec.Egress[3].To[0].IpBlock.Cidr, policy.Spec.Egress[3].Ports.Single().Port.Value));
    }

    [Fact]
    public void Build_DeniesAllIngress_WhenThePolicyListsNoSourceAndNoSiloSelectorIsSet()
    {
        var options = new KubernetesRuntimeOptions { SiloSelector = string.Empty };

        var policy = KubernetesWorkloadBuilder.Build(Id, Spec() with { NetworkPolicy = new NetworkPolicySpec() }, options, "ml", 1).NetworkPolicy!;

        Assert.Empty(policy.Spec.Ingress);
        Assert.Single(policy.Spec.Egress);
        Assert.Null(KubernetesWorkloadBuilder.Build(Id, Spec() with { NetworkPolicy = new NetworkPolicySpec { Enabled = false } }, options, "ml", 1).NetworkPolicy);
        Assert.Null(KubernetesWorkloadBuilder.Build(Id, Spec(), options, "ml", 1).NetworkPolicy);
    }

    [Theory]
    [InlineData("api.example.com:443")]
    [InlineData("10.0.0.0/40")]
    [InlineData("10.0.0.1:70000")]
    public void Build_RejectsAnEgressEntry_ThatNetworkPolicyCannotExpress(string entry)
    {
        var error = Assert.Throws<InvalidVPodSpecException>(() =>
            KubernetesWorkloadBuilder.Build(Id, Spec() with { NetworkPolicy = new NetworkPolicySpec { EgressTo = [entry] } }, Options, "ml", 1));

        Assert.Contains($"egress '{entry}'", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Build_RejectsAnIngressEntry_ThatIsNotALabelSelector()
    {
        var error = Assert.Throws<InvalidVPodSpecException>(() =>
            KubernetesWorkloadBuilder.Build(Id, Spec() with { NetworkPolicy = new NetworkPolicySpec { IngressFrom = ["no selector"] } }, Options, "ml", 1));

        Assert.Contains("ingress 'no selector'", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Build_AddsADisruptionBudgetAndPreferredAntiAffinity_WhenHighlyAvailable()
    {
        var workload = KubernetesWorkloadBuilder.Build(Id, Spec() with { HighAvailability = true }, Options, "ml", 3);

        var budget = workload.DisruptionBudget!;
        Assert.Equal(("policy/v1", "PodDisruptionBudget", Id, "1"), (budget.ApiVersion, budget.Kind, budget.Metadata.Name, budget.Spec.MaxUnavailable.Value));
        Assert.Equal(new Dictionary<string, string> { ["metanode.io/vpod-id"] = Id }, budget.Spec.Selector.MatchLabels);
        var preferred = Assert.Single(workload.Deployment!.Spec.Template.Spec.Affinity.PodAntiAffinity.PreferredDuringSchedulingIgnoredDuringExecution);
        Assert.Equal((100, "kubernetes.io/hostname"), (preferred.Weight, preferred.PodAffinityTerm.TopologyKey));
        Assert.Equal(Id, preferred.PodAffinityTerm.LabelSelector.MatchLabels["metanode.io/vpod-id"]);
        Assert.Null(workload.Deployment.Spec.Template.Spec.Affinity.PodAntiAffinity.RequiredDuringSchedulingIgnoredDuringExecution);
        Assert.Null(KubernetesWorkloadBuilder.Build(Id, Spec(), Options, "ml", 3).DisruptionBudget);
    }

    [Fact]
    public void Build_RequiresAntiAffinity_WhenConfiguredSo()
    {
        var options = new KubernetesRuntimeOptions { AntiAffinity = AntiAffinityMode.Required, TopologyKey = "topology.kubernetes.io/zone" };

        var anti = KubernetesWorkloadBuilder.Build(Id, Spec() with { HighAvailability = true }, options, "ml", 3).Deployment!.Spec.Template.Spec.Affinity.PodAntiAffinity;

        var term = Assert.Single(anti.RequiredDuringSchedulingIgnoredDuringExecution);
        Assert.Equal("topology.kubernetes.io/zone", term.TopologyKey);
        Assert.Null(anti.PreferredDuringSchedulingIgnoredDuringExecution);
    }

    [Fact]
    public void Build_RejectsASpecWithoutImage_AndLabelsKubernetesRefuses()
    {
        Assert.Contains("needs a container image", Assert.Throws<InvalidVPodSpecException>(() => KubernetesWorkloadBuilder.Build(Id, Spec() with { Image = null }, Options, "ml", 1)).Message, StringComparison.Ordinal);
        var bad = Spec() with { Labels = new Dictionary<string, string> { ["team"] = "has spaces" } };
        Assert.Contains("label 'team' value 'has spaces' is invalid", Assert.Throws<InvalidVPodSpecException>(() => KubernetesWorkloadBuilder.Build(Id, bad, Options, "ml", 1)).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Build_UsesTheConfiguredLabelPrefix()
    {
        var options = new KubernetesRuntimeOptions { LabelPrefix = "vpods.example.org" };

        var deployment = KubernetesWorkloadBuilder.Build(Id, Spec(), options, "ml", 1).Deployment!;

        Assert.Equal(Id, deployment.Spec.Selector.MatchLabels["vpods.example.org/vpod-id"]);
        Assert.Equal("fed-1", deployment.Metadata.Labels["vpods.example.org/cluster"]);
    }

    [Theory]
    [InlineData("vpod-1a2b3c4d", "vpod-1a2b3c4d")]
    [InlineData("VPod_X", null)]
    [InlineData("9-lives", null)]
    public void ObjectName_IsADeterministicDnsLabel_WhateverTheId(string id, string? expected)
    {
        var name = KubernetesNames.ObjectName(id);

        Assert.Equal(name, KubernetesNames.ObjectName(id));
        Assert.True(KubernetesNames.IsDnsLabel(name) && name.Length <= KubernetesNames.MaxObjectNameLength && char.IsAsciiLetterLower(name[0]), name);
        if (expected is not null)
        {
            Assert.Equal(expected, name);
        }
        else
        {
            Assert.NotEqual(KubernetesNames.ObjectName(id + "x"), name);
        }
    }

    [Fact]
    public void ObjectName_ShortensLongIds_WithoutCollisions()
    {
        var a = KubernetesNames.ObjectName("vpod-" + new string('a', 80));
        var b = KubernetesNames.ObjectName("vpod-" + new string('a', 79) + "b");

        Assert.True(a.Length <= KubernetesNames.MaxObjectNameLength);
        Assert.NotEqual(a, b);
    }
}

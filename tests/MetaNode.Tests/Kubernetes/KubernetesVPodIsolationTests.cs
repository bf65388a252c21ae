using k8s.Models;
using MetaNode.Grains.Runtime.Kubernetes;
using MetaNode.VPods;

namespace MetaNode.Tests.Kubernetes;

/// <summary>What keeps a kubernetes vPod apart from the silos and PostgreSQL: pod security, its own labels, no host paths or foreign claims.</summary>
public sealed class KubernetesVPodIsolationTests
{
    private const string Id = "vpod-5e6f7a8b";
    private static readonly KubernetesRuntimeOptions Options = new();

    private static VPodSpec Spec() => new()
    {
        Name = "worker",
        DeploymentMethod = DeploymentMethod.Kubernetes,
        Image = "metanode/compute-vpod:latest",
        Ports = [8080],
    };

    private static V1PodTemplateSpec Template(KubernetesWorkload workload) =>
        workload.Deployment?.Spec.Template ?? workload.StatefulSet!.Spec.Template;

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Build_RunsEveryPod_UnderTheRestrictedPodSecurityStandard(bool persistent)
    {
        var spec = persistent ? Spec() with { PersistentStorage = new StorageRequest(64L << 20) } : Spec();

        var workload = KubernetesWorkloadBuilder.Build(Id, spec, Options, "vpods", 1);

        var pod = Template(workload).Spec;
        Assert.Equal((true, 65532L, 65532L, 65532L, "RuntimeDefault"), (pod.SecurityContext.RunAsNonRoot, pod.SecurityContext.RunAsUser, pod.SecurityContext.RunAsGroup, pod.SecurityContext.FsGroup, pod.SecurityContext.SeccompProfile.Type));
        Assert.False(pod.AutomountServiceAccountToken);
        var container = Assert.Single(pod.Containers);
        Assert.Equal((false, true), (container.SecurityContext.AllowPrivilegeEscalation, container.SecurityContext.ReadOnlyRootFilesystem));
        Assert.Equal(["ALL"], container.SecurityContext.Capabilities.Drop);
        Assert.Null(container.SecurityContext.Capabilities.Add);
        Assert.Null(container.SecurityContext.Privileged);
        Assert.Contains(container.VolumeMounts, m => m.MountPath == "/tmp" && pod.Volumes.Single(v => v.Name == m.Name).EmptyDir is not null);

        // No host path; the only claim a pod names is the vPod's own key claim (a StatefulSet's come from its templates).
        Assert.All(pod.Volumes, v => Assert.Null(v.HostPath));
        Assert.All(pod.Volumes.Where(v => v.PersistentVolumeClaim is not null), v => Assert.Equal(KubernetesWorkloadBuilder.KeyClaimName(workload.Name), v.PersistentVolumeClaim.ClaimName));
        Assert.All(pod.Volumes, v => Assert.True(v.EmptyDir is not null || v.PersistentVolumeClaim is not null, $"volume '{v.Name}' is neither emptyDir nor the vPod's claim"));
    }

    [Fact]
    public void Build_RunsAsTheConfiguredUser()
    {
        var pod = KubernetesWorkloadBuilder.Build(Id, Spec(), new KubernetesRuntimeOptions { RunAsUser = 1000 }, "vpods", 1).Deployment!.Spec.Template.Spec;

        Assert.Equal((1000L, 1000L, 1000L), (pod.SecurityContext.RunAsUser, pod.SecurityContext.RunAsGroup, pod.SecurityContext.FsGroup));
    }

    [Theory]
    [InlineData("/var/run/docker.sock")]
    [InlineData("/")]
    [InlineData("data-metanode-postgres-0")]
    [InlineData("vpod-other-key")]
    public void Validate_RefusesAHostPathOrAClaimTheVPodDoesNotOwn_NamingTheVolume(string source)
    {
        var spec = Spec() with { Volumes = [new VolumeMount(source, "/mnt")] };

        var error = Assert.Throws<InvalidVPodSpecException>(() => KubernetesWorkloadBuilder.Validate(Id, spec, Options));

        Assert.Contains($"volume '{source}:/mnt' is refused", error.Message, StringComparison.Ordinal);
        Assert.Throws<InvalidVPodSpecException>(() => KubernetesWorkloadBuilder.Build(Id, spec, Options, "vpods", 1));
    }

    [Fact]
    public void Validate_RefusesPersistentStorageMountedOverTheScratchVolume()
    {
        var error = Assert.Throws<InvalidVPodSpecException>(() => KubernetesWorkloadBuilder.Validate(Id, Spec() with { PersistentStorage = new StorageRequest(64L << 20, MountPath: "/tmp") }, Options));

        Assert.Contains("cannot be mounted at /tmp", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Labels_PutTheVPodNameInALabelOfItsOwn_SoAVPodNamedLikeTheSiloIsNoSilo()
    {
        var labels = KubernetesWorkloadBuilder.Labels(Id, Spec() with { Name = "metanode-silo" }, Options);

        Assert.Equal("metanode-silo", labels["metanode.io/vpod-name"]);
        Assert.Equal(("vpod", Id, "metanode"), (labels["app.kubernetes.io/component"], labels["metanode.io/vpod-id"], labels["app.kubernetes.io/managed-by"]));
        Assert.DoesNotContain("app.kubernetes.io/name", labels.Keys);
        Assert.DoesNotContain("app.kubernetes.io/part-of", labels.Keys);
    }

    [Theory]
    [InlineData("app.kubernetes.io/component", "silo")]
    [InlineData("app.kubernetes.io/part-of", "metanode")]
    [InlineData("app.kubernetes.io/name", "metanode-silo")]
    [InlineData("metanode.io/vpod-id", "vpod-other")]
    [InlineData("kubernetes.io/metadata.name", "metanode")]
    [InlineData("node-role.kubernetes.io/control-plane", "")]
    [InlineData("x.k8s.io/y", "z")]
    public void Validation_RefusesALabelWithAReservedKey(string key, string value)
    {
        var spec = Spec() with { Labels = new Dictionary<string, string> { [key] = value } };

        var errors = VPodSpecValidation.Validate(spec);
        var builder = Assert.Throws<InvalidVPodSpecException>(() => KubernetesWorkloadBuilder.Validate(Id, spec, Options));

        Assert.Contains(errors, e => e.Contains($"label key '{key}' is reserved", StringComparison.Ordinal));
        Assert.Contains($"label key '{key}'", builder.Message, StringComparison.Ordinal);
        Assert.Throws<InvalidVPodSpecException>(() => VPodSpecValidation.ThrowIfInvalid(spec));
    }

    [Theory]
    [InlineData("has space", "x", "label key 'has space' is invalid")]
    [InlineData("-team", "x", "label key '-team' is invalid")]
    [InlineData("Bad_Prefix/team", "x", "label key 'Bad_Prefix/team' is invalid")]
    [InlineData("a/b/c", "x", "label key 'a/b/c' is invalid")]
    [InlineData("team", "has spaces", "label 'team' value 'has spaces' is invalid")]
    [InlineData("team", "-leading", "label 'team' value '-leading' is invalid")]
    public void Validation_RefusesALabelKubernetesWouldRefuse(string key, string value, string expected)
    {
        var errors = VPodSpecValidation.Validate(Spec() with { Labels = new Dictionary<string, string> { [key] = value } });

        Assert.Contains(errors, e => e.Contains(expected, StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("team", "ml")]
    [InlineData("example.com/team", "")]
    [InlineData("metanode.cluster", "fed-1")]
    [InlineData("app", "metanode-silo")]
    [InlineData("component", "silo")]
    public void Validation_TakesOrdinaryLabels(string key, string value)
    {
        Assert.Empty(VPodSpecValidation.Validate(Spec() with { Labels = new Dictionary<string, string> { [key] = value } }));
        Assert.Equal(value, KubernetesWorkloadBuilder.Labels(Id, Spec() with { Labels = new Dictionary<string, string> { [key] = value } }, Options)[key]);
    }

    [Fact]
    public void Builder_RefusesLabelsUnderACustomLabelPrefix()
    {
        var options = new KubernetesRuntimeOptions { LabelPrefix = "vpods.example.org" };

        var error = Assert.Throws<InvalidVPodSpecException>(() => KubernetesWorkloadBuilder.Validate(Id, Spec() with { Labels = new Dictionary<string, string> { ["vpods.example.org/vpod-id"] = "x" } }, options));

        Assert.Contains("label key 'vpods.example.org/vpod-id' is reserved", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("app.kubernetes.io/component=silo")]
    [InlineData("role=x,app.kubernetes.io/part-of=metanode")]
    [InlineData("kubernetes.io/metadata.name=metanode")]
    public void NetworkPolicy_RefusesAnIngressSelectorOnAReservedKey(string selector)
    {
        var spec = Spec() with { NetworkPolicy = new NetworkPolicySpec { IngressFrom = [selector] } };

        Assert.Contains(VPodSpecValidation.Validate(spec), e => e.Contains($"network policy ingress '{selector}' selects on the reserved label key", StringComparison.Ordinal));
        Assert.Contains("selects on the reserved label key", Assert.Throws<InvalidVPodSpecException>(() => KubernetesWorkloadBuilder.Validate(Id, spec, Options)).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void NetworkPolicy_AdmitsOtherVPodsByTheirIdentityLabels_InTheVPodsNamespaceOnly_AndTheSilosInTheirs()
    {
        var spec = Spec() with { NetworkPolicy = new NetworkPolicySpec { IngressFrom = ["metanode.io/vpod-name=aggregator"], EgressTo = ["10.0.0.0/8"] } };
        Assert.Empty(VPodSpecValidation.Validate(spec));

        var policy = KubernetesWorkloadBuilder.Build(Id, spec, Options, "metanode-vpods", 1, siloNamespace: "metanode").NetworkPolicy!;

        var peers = Assert.Single(policy.Spec.Ingress).FromProperty;
        Assert.Null(peers[0].NamespaceSelector);
        Assert.Equal("metanode", peers[1].NamespaceSelector.MatchLabels["kubernetes.io/metadata.name"]);

        // Egress: DNS and address blocks only, never a pod or namespace selector (so never "the silos' namespace").
        Assert.All(policy.Spec.Egress.SelectMany(e => e.To ?? []), peer => Assert.True(peer.PodSelector is null && peer.NamespaceSelector is null && peer.IpBlock is not null));
        Assert.All(policy.Spec.Egress.Where(e => e.To is null), e => Assert.All(e.Ports, p => Assert.Equal("53", p.Port.Value)));
    }

    [Theory]
    [InlineData(null, null, "metanode", "metanode", "metanode-vpods")]
    [InlineData("vpods", null, "metanode", "metanode", "vpods")]
    [InlineData(null, "silos", "metanode", "silos", "silos-vpods")]
    [InlineData(null, null, null, "default", "default-vpods")]
    public void Namespaces_KeepTheVPodsOutOfTheSilosNamespace(string? vpods, string? silos, string? connection, string expectedSilos, string expectedVPods)
    {
        Assert.Equal((expectedVPods, expectedSilos), KubernetesRuntime.Namespaces(new KubernetesRuntimeOptions { Namespace = vpods, SiloNamespace = silos }, connection));
    }

    [Fact]
    public void Namespaces_RefuseTheSilosNamespaceForVPods()
    {
        var error = Assert.Throws<InvalidOperationException>(() => KubernetesRuntime.Namespaces(new KubernetesRuntimeOptions { Namespace = "metanode" }, "metanode"));

        Assert.Contains("will not run vPods in the silos' namespace 'metanode'", error.Message, StringComparison.Ordinal);
        Assert.Equal(63, KubernetesNames.VPodNamespaceFor(new string('a', 63)).Length);
    }

    [Fact]
    public void OptionsValidator_RefusesASharedNamespace_AnOpenSiloSelector_AndRoot()
    {
        var options = new KubernetesRuntimeOptions { Namespace = "metanode", SiloNamespace = "metanode", SiloSelector = "app=metanode-silo", RunAsUser = 0 };

        var failures = new KubernetesRuntimeOptionsValidator().Validate(null, options).Failures!.ToList();

        Assert.Contains(failures, f => f.Contains("MetaNode:Runtime:Kubernetes:Namespace must not be the silos' namespace", StringComparison.Ordinal));
        Assert.Contains(failures, f => f.Contains("MetaNode:Runtime:Kubernetes:SiloSelector must select on reserved label keys only", StringComparison.Ordinal) && f.Contains("'app'", StringComparison.Ordinal));
        Assert.Contains(failures, f => f.Contains("MetaNode:Runtime:Kubernetes:RunAsUser must be a non-root user id", StringComparison.Ordinal));
        Assert.True(new KubernetesRuntimeOptionsValidator().Validate(null, new KubernetesRuntimeOptions()).Succeeded);
    }
}

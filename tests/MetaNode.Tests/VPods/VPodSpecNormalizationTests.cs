using System.Collections.Immutable;
using MetaNode.Grains.VPods;
using MetaNode.VPods;

namespace MetaNode.Tests.VPods;

public sealed class VPodSpecNormalizationTests
{
    private static readonly VPodSpec Existing = VPodSpecNormalization.Normalize(new VPodSpec
    {
        Name = "worker-1",
        DeploymentMethod = DeploymentMethod.Docker,
        Image = "busybox",
        Command = ["sh", "-c", "sleep 1000"],
        Ports = [8080, 9090],
        Env = new Dictionary<string, string> { ["A"] = "1", ["B"] = "2" },
        Labels = new Dictionary<string, string> { ["team"] = "x", ["tier"] = "y" },
        Volumes = [new VolumeMount("data", "/data")],
        PersistentStorage = new StorageRequest(1024 * 1024, "fast"),
        NetworkPolicy = new NetworkPolicySpec { IngressFrom = ["app=web"], EgressTo = ["10.0.0.0/8"] },
    });

    [Fact]
    public void Normalize_CopiesTheCollectionsIntoPlainArraysAndDictionaries()
    {
        var spec = new VPodSpec
        {
            Name = "worker-1",
            Command = ImmutableList.Create("run"),
            Ports = ImmutableList.Create(1, 2),
            Volumes = ImmutableList.Create(new VolumeMount("v", "/v")),
            Env = ImmutableDictionary<string, string>.Empty.Add("A", "1"),
            Labels = ImmutableSortedDictionary<string, string>.Empty.Add("l", "v"),
        };

        var normalized = VPodSpecNormalization.Normalize(spec);

        Assert.IsType<string[]>(normalized.Command);
        Assert.IsType<int[]>(normalized.Ports);
        Assert.IsType<VolumeMount[]>(normalized.Volumes);
        Assert.IsType<Dictionary<string, string>>(normalized.Env);
        Assert.IsType<Dictionary<string, string>>(normalized.Labels);
        Assert.Equal(spec.Command, normalized.Command);
        Assert.Equal(spec.Ports, normalized.Ports);
        Assert.Equal(spec.Volumes, normalized.Volumes);
        Assert.Equal(spec.Env, normalized.Env);
        Assert.Equal(spec.Labels, normalized.Labels);
    }

    [Fact]
    public void SameSpec_IsTrue_ForTheSameSpecInOtherCollectionsAndMapOrder()
    {
        var requested = Existing with
        {
            Command = ImmutableList.Create("sh", "-c", "sleep 1000"),
            Ports = ImmutableList.Create(8080, 9090),
            Env = new Dictionary<string, string> { ["B"] = "2", ["A"] = "1" },
            Labels = new SortedDictionary<string, string> { ["tier"] = "y", ["team"] = "x" },
            Volumes = [new VolumeMount("data", "/data")],
            NetworkPolicy = new NetworkPolicySpec { IngressFrom = ["app=web"], EgressTo = ["10.0.0.0/8"] },
        };

        Assert.True(VPodSpecNormalization.SameSpec(Existing, requested));
    }

    [Fact]
    public void SameSpec_MatchesPortZeroOrNoPort_WithThePortTheVPodWasGiven()
    {
        Assert.True(VPodSpecNormalization.SameSpec(Existing, Existing with { Ports = [0, 9090] }));
        Assert.True(VPodSpecNormalization.SameSpec(Existing, Existing with { Ports = [0, 0] }));
        Assert.True(VPodSpecNormalization.SameSpec(Existing, Existing with { Ports = [] }));
    }

    public static TheoryData<string> Differences() => new(Changed.Keys);

    private static readonly Dictionary<string, VPodSpec> Changed = new()
    {
        ["env value"] = Existing with { Env = new Dictionary<string, string> { ["A"] = "1", ["B"] = "3" } },
        ["env entry"] = Existing with { Env = new Dictionary<string, string> { ["A"] = "1" } },
        ["volume"] = Existing with { Volumes = [new VolumeMount("data", "/data", ReadOnly: true)] },
        ["label"] = Existing with { Labels = new Dictionary<string, string> { ["team"] = "x", ["tier"] = "z" } },
        ["storage"] = Existing with { PersistentStorage = new StorageRequest(2 * 1024 * 1024, "fast") },
        ["no storage"] = Existing with { PersistentStorage = null },
        ["network policy"] = Existing with { NetworkPolicy = new NetworkPolicySpec { IngressFrom = ["app=web"], EgressTo = ["10.0.0.0/16"] } },
        ["port"] = Existing with { Ports = [8080, 9091] },
        ["port count"] = Existing with { Ports = [0] },
        ["command"] = Existing with { Command = ["sh"] },
        ["memory"] = Existing with { MemoryBytes = Existing.MemoryBytes * 2 },
    };

    [Theory]
    [MemberData(nameof(Differences))]
    public void SameSpec_IsFalse_WhenAnyFieldDiffers(string difference) =>
        Assert.False(VPodSpecNormalization.SameSpec(Existing, Changed[difference]));
}

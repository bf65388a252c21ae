using System.Formats.Tar;
using MetaNode.Grains.Runtime.Docker;
using MetaNode.VPods;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace MetaNode.Tests.Runtime.Docker;

/// <summary>The docker runtime's protections, decided without an engine: bind roots, container security settings, file owners, refused specs.</summary>
public sealed class DockerHardeningTests : IDisposable
{
    private const string RootsKey = "MetaNode:Runtime:Docker:AllowedBindRoots";
    private static readonly string[] NoDenied = [];
    private readonly string _temp = Directory.CreateTempSubdirectory("metanode-binds-").FullName;

    public void Dispose() => Directory.Delete(_temp, recursive: true);

    private static string Same(string path) => path;

    private static VPodSpec Spec(params VolumeMount[] volumes) => new()
    {
        Name = "w",
        DeploymentMethod = DeploymentMethod.Docker,
        Image = "metanode/busybox:latest",
        Volumes = volumes,
    };

    [Theory]
    [InlineData("/")]
    [InlineData("/var/run/docker.sock")]
    [InlineData("/srv/data")]
    public void Check_RefusesEveryHostPath_WhenNoRootIsAllowed(string source)
    {
        var error = DockerBindPolicy.Check(source, [], NoDenied, Same);

        Assert.NotNull(error);
        Assert.Contains($"'{source}'", error, StringComparison.Ordinal);
        Assert.Contains(RootsKey, error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("/srv/data")]
    [InlineData("/srv/data/")]
    [InlineData("/srv/data/set-1/train.csv")]
    public void Check_AllowsPathsUnderAnAllowedRoot(string source) =>
        Assert.Null(DockerBindPolicy.Check(source, ["/opt/x", "/srv/data"], NoDenied, Same));

    [Theory]
    [InlineData("/")]
    [InlineData("/srv")]
    [InlineData("/srv/data2")]
    [InlineData("/srv/dat")]
    [InlineData("/etc/passwd")]
    public void Check_RefusesPathsOutsideTheAllowedRoots_NamingThePathAndTheOption(string source)
    {
        var error = DockerBindPolicy.Check(source, ["/srv/data"], NoDenied, Same);

        Assert.NotNull(error);
        Assert.Contains($"'{source}'", error, StringComparison.Ordinal);
        Assert.Contains(RootsKey, error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("/srv/data/../../etc")]
    [InlineData("/srv/data/./x")]
    [InlineData("/srv//data")]
    [InlineData("./data")]
    [InlineData("../data")]
    [InlineData("/srv/data/\0x")]
    public void Check_RefusesPathsThatAreNotNormalizedAndAbsolute_SoDotDotCannotEscape(string source)
    {
        var error = DockerBindPolicy.Check(source, ["/srv/data"], NoDenied, Same);

        Assert.NotNull(error);
        Assert.Contains("normalized absolute path", error, StringComparison.Ordinal);
    }

    [Fact]
    public void Check_RefusesTheEnginesSocket_EvenUnderAnAllowedRoot()
    {
        var error = DockerBindPolicy.Check("/var/run/docker.sock", ["/var/run"], DockerBindPolicy.EngineSockets, Same);

        Assert.NotNull(error);
        Assert.Contains("'/var/run/docker.sock'", error, StringComparison.Ordinal);
        Assert.Contains("socket", error, StringComparison.Ordinal);
        Assert.Null(DockerBindPolicy.Check("/var/run/metanode", ["/var/run"], DockerBindPolicy.EngineSockets, Same));
    }

    [Fact]
    public void Check_RefusesALinkUnderAnAllowedRoot_ThatLeadsOutOfIt()
    {
        var root = Directory.CreateDirectory(Path.Combine(_temp, "allowed")).FullName;
        Directory.CreateDirectory(Path.Combine(root, "inside"));
        File.CreateSymbolicLink(Path.Combine(root, "link-to-root"), "/");
        File.CreateSymbolicLink(Path.Combine(root, "relative-escape"), "../..");
        File.CreateSymbolicLink(Path.Combine(root, "link-inside"), "inside");

        var toRoot = DockerBindPolicy.Check(root + "/link-to-root", [root], NoDenied, DockerBindPolicy.RealPath);
        var toEtc = DockerBindPolicy.Check(root + "/link-to-root/etc", [root], NoDenied, DockerBindPolicy.RealPath);
        var relative = DockerBindPolicy.Check(root + "/relative-escape/x", [root], NoDenied, DockerBindPolicy.RealPath);

        Assert.Contains($"'{root}/link-to-root' (it resolves to '/')", toRoot, StringComparison.Ordinal);
        Assert.Contains("(it resolves to '/etc')", toEtc, StringComparison.Ordinal);
        Assert.NotNull(relative);
        Assert.Null(DockerBindPolicy.Check(root + "/link-inside/new-dir", [root], NoDenied, DockerBindPolicy.RealPath));
        Assert.Null(DockerBindPolicy.Check(root + "/not-yet/there", [root], NoDenied, DockerBindPolicy.RealPath));
    }

    [Fact]
    public void Check_ComparesRealPaths_WhenTheAllowedRootIsItselfALink()
    {
        var real = Directory.CreateDirectory(Path.Combine(_temp, "real")).FullName;
        var link = Path.Combine(_temp, "root-link");
        File.CreateSymbolicLink(link, real);

        Assert.Null(DockerBindPolicy.Check(link + "/a", [link], NoDenied, DockerBindPolicy.RealPath));
        Assert.Null(DockerBindPolicy.Check(real + "/a", [link], NoDenied, DockerBindPolicy.RealPath));
        Assert.NotNull(DockerBindPolicy.Check(_temp + "/other", [link], NoDenied, DockerBindPolicy.RealPath));
    }

    [Fact]
    public void RealPath_ResolvesEachLinkAlongThePath_AndKeepsMissingSegments()
    {
        Directory.CreateDirectory(Path.Combine(_temp, "a", "b"));
        File.CreateSymbolicLink(Path.Combine(_temp, "l1"), "a");
        File.CreateSymbolicLink(Path.Combine(_temp, "a", "up"), "..");
        var loop = Path.Combine(_temp, "loop");
        File.CreateSymbolicLink(loop, loop);
        var real = DockerBindPolicy.RealPath(_temp);

        Assert.Equal(real + "/a/b/missing", DockerBindPolicy.RealPath(_temp + "/l1/b/missing"));
        Assert.Equal(real + "/a", DockerBindPolicy.RealPath(_temp + "/l1/up/l1"));
        Assert.Throws<InvalidVPodSpecException>(() => DockerBindPolicy.RealPath(loop + "/x"));
    }

    [Fact]
    public void ThrowIfRefused_LeavesNamedVolumesAlone_AndNamesTheVPodAndVolume()
    {
        var options = new DockerRuntimeOptions();
        DockerBindPolicy.ThrowIfRefused("vpod-1", Spec(new VolumeMount("models", "/models")), options, NoDenied);

        var error = Assert.Throws<InvalidVPodSpecException>(() => DockerBindPolicy.ThrowIfRefused("vpod-1", Spec(new VolumeMount("models", "/models"), new VolumeMount("/", "/host")), options, NoDenied));

        Assert.Contains("vPod 'vpod-1': volume '/:/host'", error.Message, StringComparison.Ordinal);
        Assert.Contains(RootsKey, error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("metanode-vpod-9-key")]
    [InlineData("metanode-vpod-9-data")]
    public void ThrowIfRefused_RefusesTheRuntimesOwnVolumes_SoAVPodCannotMountAnothersKeyOrStorage(string volume)
    {
        var error = Assert.Throws<InvalidVPodSpecException>(() => DockerBindPolicy.ThrowIfRefused("vpod-1", Spec(new VolumeMount(volume, "/other")), new DockerRuntimeOptions(), NoDenied));

        Assert.Contains($"volume '{volume}:/other'", error.Message, StringComparison.Ordinal);
        Assert.Contains("'metanode-'", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ValidateSpec_RefusesWhatTheDockerRuntimeCannotHonour_NamingTheRuntime()
    {
        using var runtime = new DockerRuntime(Options.Create(new DockerRuntimeOptions { Endpoint = "unix:///run/metanode-test/engine.sock", AllowedBindRoots = ["/run"] }), NullLogger<DockerRuntime>.Instance);

        var policy = Assert.Throws<InvalidVPodSpecException>(() => runtime.ValidateSpec("vpod-2", Spec() with { NetworkPolicy = new NetworkPolicySpec() }));
        var replicas = Assert.Throws<InvalidVPodSpecException>(() => runtime.ValidateSpec("vpod-2", Spec() with { Replicas = 3 }));
        var socket = Assert.Throws<InvalidVPodSpecException>(() => runtime.ValidateSpec("vpod-2", Spec(new VolumeMount("/run/metanode-test/engine.sock", "/s"))));

        Assert.Contains("network policy cannot be enforced by the docker runtime", policy.Message, StringComparison.Ordinal);
        Assert.Contains("docker runtime runs one container", replicas.Message, StringComparison.Ordinal);
        Assert.Contains("socket", socket.Message, StringComparison.Ordinal);
        var secret = Assert.Throws<InvalidVPodSpecException>(() => runtime.ValidateSpec("vpod-2", Spec() with { ImagePullSecrets = ["nowhere"] }));
        Assert.Contains("image pull secret 'nowhere' is not configured", secret.Message, StringComparison.Ordinal);
        runtime.ValidateSpec("vpod-2", Spec(new VolumeMount("/run/metanode-test/in", "/in")) with { NetworkPolicy = new NetworkPolicySpec { Enabled = false } });
    }

    [Fact]
    public void Build_DropsEveryCapability_ForbidsNewPrivileges_AndLimitsPids()
    {
        var parameters = DockerContainerSpec.Build("vpod-3", Spec(), new DockerRuntimeOptions { PidsLimit = 64 }, 8080);

        var host = parameters.HostConfig;
        Assert.Equal(["ALL"], host.CapDrop);
        Assert.True(host.CapAdd is null || host.CapAdd.Count == 0);
        Assert.Contains("no-new-privileges:true", host.SecurityOpt);
        Assert.False(host.Privileged);
        Assert.Equal(64L, host.PidsLimit);
        Assert.Equal(512L, DockerContainerSpec.Build("vpod-3", Spec(), new DockerRuntimeOptions(), 8080).HostConfig.PidsLimit);
    }

    [Theory]
    [InlineData(null, 0, 0)]
    [InlineData("", 0, 0)]
    [InlineData("root", 0, 0)]
    [InlineData("metanode", 0, 0)]
    [InlineData("0", 0, 0)]
    [InlineData("65532", 65532, 65532)]
    [InlineData("65532:65532", 65532, 65532)]
    [InlineData("1000:100", 1000, 100)]
    [InlineData("1000:staff", 1000, 1000)]
    public void OwnerOf_TakesTheContainersNumericUser(string? user, int uid, int gid) =>
        Assert.Equal((uid, gid), DockerDataArchive.OwnerOf(user));

    [Fact]
    public void Build_GivesTheFilesAndTheDataDirectoryToTheWorkloadUser_WhenItIsNotRoot()
    {
        var files = new VPodDataFiles { Files = [new VPodDataFile("train.csv", "1,2\n"u8.ToArray())] };

        using var archive = new MemoryStream(DockerDataArchive.Build("/state", files, DateTimeOffset.UnixEpoch, (65532, 65532)));
        using var reader = new TarReader(archive);
        var directory = reader.GetNextEntry()!;
        var file = reader.GetNextEntry()!;

        Assert.Equal((TarEntryType.Directory, "state/", 65532, 65532, DockerDataArchive.DirectoryMode), (directory.EntryType, directory.Name, directory.Uid, directory.Gid, directory.Mode));
        Assert.Equal((TarEntryType.RegularFile, "state/train.csv", 65532, 65532, DockerDataArchive.FileMode), (file.EntryType, file.Name, file.Uid, file.Gid, file.Mode));
        Assert.Null(reader.GetNextEntry());
    }

    [Fact]
    public void Validate_RefusesBadBindRootsAndPidsLimits_NamingTheKey()
    {
        var options = new DockerRuntimeOptions { AllowedBindRoots = ["relative/dir", "/srv/../etc", "/", "/srv/data/", "/a\0b", "/srv/ok"], PidsLimit = 0 };

        var result = new DockerRuntimeOptionsValidator().Validate(null, options);

        var failures = string.Join('\n', result.Failures!);
        Assert.Contains($"{RootsKey}:0 must be an absolute, normalized path", failures, StringComparison.Ordinal);
        Assert.Contains($"{RootsKey}:1 must be an absolute, normalized path", failures, StringComparison.Ordinal);
        Assert.Contains($"{RootsKey}:2 must not be '/'", failures, StringComparison.Ordinal);
        Assert.Contains($"{RootsKey}:3 must be an absolute, normalized path", failures, StringComparison.Ordinal);
        Assert.Contains($"{RootsKey}:4 must be an absolute, normalized path", failures, StringComparison.Ordinal);
        Assert.DoesNotContain($"{RootsKey}:5", failures, StringComparison.Ordinal);
        Assert.Contains("MetaNode:Runtime:Docker:PidsLimit", failures, StringComparison.Ordinal);
        Assert.Empty(new DockerRuntimeOptions().AllowedBindRoots);
        Assert.True(new DockerRuntimeOptionsValidator().Validate(null, new DockerRuntimeOptions { AllowedBindRoots = ["/srv/data"] }).Succeeded);
    }
}

using MetaNode.Client;
using MetaNode.Clusters;
using MetaNode.Grains.Runtime.Docker;
using MetaNode.Grains.Runtime.Kubernetes;
using MetaNode.Tests.Runtime;
using MetaNode.VPods;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace MetaNode.Tests.VPods;

/// <summary>
/// One rule set for names, labels and ids: random text goes through every entry point that takes each kind of value (the command
/// line's builder, the server's spec validation, cluster validation, the runtimes' option validators and selector parsers), and they
/// must all give the same answer as <see cref="VPodNames"/> and <see cref="VPodLabels"/>.
/// </summary>
public sealed class VPodNamesTests
{
    private const int Cases = 20_000;
    private const string Alphabet = "abcz09-._/=Az \n";

    [Theory]
    [InlineData("worker-1", true)]
    [InlineData("worker.eu-1", true)]
    [InlineData("a", true)]
    [InlineData("-worker", false)]
    [InlineData("worker.", false)]
    [InlineData("Worker", false)]
    [InlineData("worker\n", false)]
    [InlineData("", false)]
    public void IsName_FollowsTheDnsNameRule(string value, bool expected)
    {
        Assert.Equal(expected, VPodNames.IsName(value));
        Assert.False(VPodNames.IsName(new string('a', VPodNames.MaxNameLength + 1)));
        Assert.True(VPodNames.IsName(new string('a', VPodNames.MaxNameLength)));
    }

    [Theory]
    [InlineData("vpod-1a2b", true)]
    [InlineData("vpod-", false)]
    [InlineData("vpod-A", false)]
    [InlineData("pod-1", false)]
    [InlineData("vpod-a_b", false)]
    [InlineData("vpod-a\n", false)]
    public void VPodIdProblem_FollowsTheIdRule(string id, bool expected)
    {
        Assert.Equal(expected, VPodNames.IsVPodId(id));
        Assert.Equal(expected, VPodIds.IsValid(id));
        Assert.Equal(!expected, VPodNames.VPodIdProblem(id)?.Contains(id, StringComparison.Ordinal) ?? false);
    }

    [Fact]
    public void Names_AgreeAcrossBuilderServerAndRuntimes_OnRandomText()
    {
        var random = new Random(1204);
        for (var n = 0; n < Cases; n++)
        {
            var text = RandomText(random, 70);
            var expected = VPodNames.IsName(text);

            // The server's check of a spec names the field when the name is bad.
            Assert.Equal(expected, !SpecProblems(new VPodSpec { Name = text }).Any(p => p.StartsWith("name ", StringComparison.Ordinal)));

            // The command line trims what was typed, then applies the same rule; whatever it builds, the server accepts.
            var builder = new VPodSpecBuilder().WithName(text);
            Assert.Equal(VPodNames.IsName(text.Trim()), builder.Errors.Count == 0);
            if (builder.Errors.Count == 0)
            {
                Assert.Empty(VPodSpecValidation.Validate(builder.Build()));
            }

            // A pull secret is a name on the command line, in the spec and as a docker registry's configuration key.
            var secret = new VPodSpecBuilder("n").AddPullSecret(text);
            Assert.Equal(VPodNames.IsName(text.Trim()), secret.Errors.Count == 0);
            Assert.Equal(expected, !SpecProblems(new VPodSpec { Name = "n", ImagePullSecrets = [text] }).Any());
            Assert.Equal(expected, DockerRegistryKeyAccepted(text));

            // A storage class too.
            Assert.Equal(expected, !SpecProblems(new VPodSpec { Name = "n", PersistentStorage = new StorageRequest(1L << 30, text) }).Any());
        }
    }

    [Fact]
    public void ClusterNames_AgreeAcrossBuilderServerAndClusterValidation_OnRandomText()
    {
        var random = new Random(4);
        for (var n = 0; n < Cases; n++)
        {
            var text = RandomText(random, 45);
            var expected = VPodNames.IsClusterName(text);
            Assert.Equal(expected, ClusterSpecValidation.IsValidName(text));
            Assert.Equal(expected, !ClusterSpecValidation.Validate(new ClusterSpec { Name = text, Count = 1 }).Any(p => p.StartsWith("name ", StringComparison.Ordinal)));
            Assert.Equal(expected, !SpecProblems(new VPodSpec { Name = "n", Cluster = text }).Any());
            Assert.Equal(VPodNames.IsClusterName(text.Trim()), new VPodSpecBuilder("n").WithCluster(text).Errors.Count == 0);

            // Every member of a valid cluster gets a valid vPod id and name.
            if (expected)
            {
                Assert.True(VPodNames.IsVPodId(ClusterSpecValidation.MemberId(text, ClusterSpecValidation.MaxCount - 1)));
                Assert.True(VPodNames.IsName(ClusterSpecValidation.MemberName(text, ClusterSpecValidation.MaxCount - 1)));
            }
        }
    }

    [Fact]
    public void Labels_AgreeAcrossBuilderServerSelectorsAndKubernetes_OnRandomText()
    {
        var random = new Random(63);
        for (var n = 0; n < Cases; n++)
        {
            var key = RandomText(random, 20);
            var value = RandomText(random, 12);
            var label = key + "=" + value;
            var syntax = VPodLabels.IsKey(key) && VPodLabels.IsValue(value);
            var allowed = VPodLabels.Problem(key, value) is null;

            Assert.Equal(allowed, !SpecProblems(new VPodSpec { Name = "n", Labels = new Dictionary<string, string> { [key] = value } }).Any());

            // The builder splits at the first '=' and trims the key; the value is kept as typed.
            var typed = new VPodSpecBuilder("n").AddLabel(label);
            var typedKey = key.Contains('=', StringComparison.Ordinal) ? null : key.Trim();
            var builderExpected = typedKey is { Length: > 0 } && VPodLabels.Problem(typedKey, value) is null;
            Assert.Equal(builderExpected, typed.Errors.Count == 0);
            if (builderExpected)
            {
                Assert.Empty(VPodSpecValidation.Validate(typed.Build()));
            }

            // Selector syntax: the command line's network-policy selectors and the Kubernetes runtime's parser.
            if (!key.Contains('=', StringComparison.Ordinal) && !key.Contains(',', StringComparison.Ordinal) && !value.Contains(',', StringComparison.Ordinal)
                && key == key.Trim() && value == value.Trim())
            {
                Assert.Equal(syntax, NetworkPolicyRules.IsSelector(label));
                // The runtime's parser also reads the '==' operator of Kubernetes selectors (key==value).
                Assert.Equal(VPodLabels.IsKey(key) && VPodLabels.IsValue(value.TrimStart('=')), KubernetesNames.TryParseSelector(label, out _, out _));
                Assert.Equal(VPodLabels.IsKey(key), KubernetesNames.IsLabelKey(key));
                Assert.Equal(VPodLabels.IsValue(value), KubernetesNames.IsLabelValue(value));
            }

            Assert.Equal(VPodNames.IsDnsLabel(key), KubernetesNames.IsDnsLabel(key));
        }
    }

    [Fact]
    public void EnvImageAndMountPath_AgreeAcrossBuilderAndServer_OnRandomText()
    {
        var random = new Random(7);
        for (var n = 0; n < Cases; n++)
        {
            var text = RandomText(random, 16);

            var env = new VPodSpecBuilder("n").AddEnv(text + "=v");
            var envKey = text.Split('=', 2)[0].Trim();
            Assert.Equal(VPodNames.IsEnvName(envKey), env.Errors.Count == 0);
            Assert.Equal(VPodNames.IsEnvName(text), !SpecProblems(new VPodSpec { Name = "n", Env = new Dictionary<string, string> { [text] = "v" } }).Any());

            Assert.Equal(VPodNames.IsImage(text.Trim()), new VPodSpecBuilder("n").WithImage(text).Errors.Count == 0);
            Assert.Equal(VPodNames.IsImage(text), !SpecProblems(new VPodSpec { Name = "n", Image = text }).Any());

            var mount = "/" + text;
            Assert.Equal(VPodNames.IsAbsolutePath(mount.Trim()), new VPodSpecBuilder("n").WithStorage("1Gi").WithStorageMount(mount).Errors.Count == 0);
            Assert.Equal(VPodNames.IsAbsolutePath(mount), !SpecProblems(new VPodSpec { Name = "n", PersistentStorage = new StorageRequest(1L << 30, null, mount) }).Any());
        }
    }

    [Fact]
    public void VPodIds_AgreeAcrossClientAndCommandLine_OnRandomText()
    {
        var random = new Random(5);
        for (var n = 0; n < Cases; n++)
        {
            var text = (random.Next(2) == 0 ? "vpod-" : string.Empty) + RandomText(random, 64);
            var expected = VPodNames.IsVPodId(text);
            Assert.Equal(expected, VPodIds.TryValidate(text, out var error));
            Assert.Equal(expected, error.Length == 0);
            if (!expected)
            {
                Assert.Equal(error, Assert.Throws<ArgumentException>(() => VPodIds.Validate(text)).Message.Split(" (Parameter", 2)[0]);
            }
        }
    }

    [Theory]
    [InlineData("worker-1")]
    [InlineData("vpod-")]
    [InlineData("vpod_a")]
    [InlineData("vpod-A1")]
    [InlineData("vpod-a/b")]
    [InlineData("../escape")]
    [InlineData("vpod-a\n")]
    [InlineData("vpod-0123456789012345678901234567890123456789012345678901234567890")]
    public async Task Runtimes_RefuseWhatTheIdRuleRefuses_WithItsMessage(string id)
    {
        var problem = VPodNames.VPodIdProblem(id);
        Assert.NotNull(problem);

        await using var sandbox = new ProcessRuntimeSandbox();
        var process = sandbox.CreateRuntime();
        var fromProcess = await Assert.ThrowsAsync<ArgumentException>(() => process.ProvisionAsync(id, ProcessRuntimeSandbox.Shell("true")));
        Assert.StartsWith(problem, fromProcess.Message, StringComparison.Ordinal);

        using var docker = new DockerRuntime(Options.Create(new DockerRuntimeOptions { Endpoint = "unix:///run/metanode-test/engine.sock" }), NullLogger<DockerRuntime>.Instance);
        var fromDocker = await Assert.ThrowsAsync<ArgumentException>(() => docker.RemoveAsync(id, null));
        Assert.StartsWith(problem, fromDocker.Message, StringComparison.Ordinal);
        Assert.False(Directory.Exists(sandbox.Root) && Directory.EnumerateFileSystemEntries(sandbox.Root, "*", SearchOption.AllDirectories).Any(e => e.Contains("escape", StringComparison.Ordinal)));
    }

    [Fact]
    public async Task ProcessRuntime_AcceptsAnIdTheRuleAccepts()
    {
        await using var sandbox = new ProcessRuntimeSandbox();
        var handle = await sandbox.CreateRuntime().ProvisionAsync("vpod-0a-b", ProcessRuntimeSandbox.Shell("true"));
        Assert.NotNull(handle);
    }

    private static IReadOnlyList<string> SpecProblems(VPodSpec spec) => VPodSpecValidation.Validate(spec);

    private static bool DockerRegistryKeyAccepted(string key)
    {
        var options = new DockerRuntimeOptions();
        options.Registries[key] = new DockerRegistryOptions { Server = "registry.test", Username = "u", Password = "p" };
        var result = new DockerRuntimeOptionsValidator().Validate(null, options);
        return !(result.Failures ?? []).Any(f => f.Contains("the name must be a lower-case DNS name", StringComparison.Ordinal));
    }

    private static string RandomText(Random random, int maxLength)
    {
        // Mostly valid-looking text, so the interesting boundaries (length, first and last character) are reached often.
        var length = random.Next(0, maxLength + 1);
        var chars = new char[length];
        for (var i = 0; i < length; i++)
        {
            chars[i] = random.Next(4) == 0 ? Alphabet[random.Next(Alphabet.Length)] : Alphabet[random.Next(6)];
        }

        return new string(chars);
    }
}

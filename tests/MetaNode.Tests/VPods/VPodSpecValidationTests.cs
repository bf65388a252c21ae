using MetaNode.VPods;

namespace MetaNode.Tests.VPods;

public sealed class VPodSpecValidationTests
{
    private static readonly VPodSpec Valid = new() { Name = "worker-1", Ports = [8080], Env = new Dictionary<string, string> { ["A_B"] = "1" } };

    [Fact]
    public void Validate_AcceptsAValidSpec() => Assert.Empty(VPodSpecValidation.Validate(Valid));

    [Theory]
    [InlineData("Upper")]
    [InlineData("-leading")]
    [InlineData("")]
    [InlineData("has space")]
    public void Validate_RejectsBadNames(string name)
    {
        var errors = VPodSpecValidation.Validate(Valid with { Name = name });
        Assert.Contains(errors, e => e.Contains($"name '{name}'", StringComparison.Ordinal));
    }

    [Fact]
    public void Validate_ListsEveryProblem()
    {
        var spec = Valid with
        {
            Type = VPodType.None,
            MemoryBytes = 1024,
            CpuMillis = 0,
            Ports = [-1, 70000],
            Env = new Dictionary<string, string> { ["1BAD"] = "x" },
            Volumes = [new VolumeMount("/data", "relative")],
            RestartPolicy = RestartPolicy.None,
        };
        var errors = VPodSpecValidation.Validate(spec);
        Assert.Equal(8, errors.Count);
        var thrown = Assert.Throws<InvalidVPodSpecException>(() => VPodSpecValidation.ThrowIfInvalid(spec));
        Assert.Contains("port '70000'", thrown.Message, StringComparison.Ordinal);
        Assert.Contains("env name '1BAD'", thrown.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_RejectsDuplicatePorts() =>
        Assert.Single(VPodSpecValidation.Validate(Valid with { Ports = [80, 80] }));

    [Fact]
    public void Validate_AcceptsPortZero_ForProcessVPods_AsAssignAFreePort() =>
        Assert.Empty(VPodSpecValidation.Validate(Valid with { DeploymentMethod = DeploymentMethod.Process, Ports = [0, 0, 9000] }));

    [Fact]
    public void Validate_RejectsPortZero_ForOtherRuntimes()
    {
        var errors = VPodSpecValidation.Validate(Valid with { DeploymentMethod = DeploymentMethod.Docker, Image = "busybox", Ports = [0] });
        var error = Assert.Single(errors);
        Assert.Contains("port '0'", error, StringComparison.Ordinal);
        Assert.Contains("only supported for process vPods", error, StringComparison.Ordinal);
    }
}

using MetaNode.Grains.VPods;
using MetaNode.VPods;

namespace MetaNode.Tests.VPods;

public sealed class VPodIdentityDecisionTests
{
    private const string A = "0x00000000000000000000000000000000000000aa";
    private const string B = "0x00000000000000000000000000000000000000bb";

    [Theory]
    [InlineData(VPodType.Compute, null, null, VPodIdentityState.Unproven)]
    [InlineData(VPodType.Validator, A, A, VPodIdentityState.Proven)]
    [InlineData(VPodType.Validator, A, "0x00000000000000000000000000000000000000AA", VPodIdentityState.Proven)]
    [InlineData(VPodType.Compute, A, B, VPodIdentityState.Changed)]
    [InlineData(VPodType.Validator, A, null, VPodIdentityState.Unproven)]
    [InlineData(VPodType.Storage, A, A, VPodIdentityState.None)]
    [InlineData(VPodType.Orchestrator, null, null, VPodIdentityState.None)]
    public void StateOf_ComparesTheAdmittedAndTheProvedAddress(VPodType type, string? admitted, string? proved, VPodIdentityState expected) =>
        Assert.Equal(expected, VPodIdentityDecision.StateOf(type, admitted, proved));

    [Fact]
    public void Admit_TakesTheFirstProvedAddress_AndKeepsItWhenAnotherIsProved()
    {
        Assert.Equal(A, VPodIdentityDecision.Admit(null, A));
        Assert.Equal(A, VPodIdentityDecision.Admit(A, B));
    }
}

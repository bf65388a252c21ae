using MetaNode.Client;

namespace MetaNode.Tests.Cli;

/// <summary>What <c>--network-policy ingress:</c> and <c>egress:</c> accept: what a Kubernetes NetworkPolicy can hold.</summary>
public sealed class NetworkPolicyRulesTests
{
    [Theory]
    [InlineData("role=validator", true)]
    [InlineData("app=web,tier=front", true)]
    [InlineData("metanode.io/cluster=fl", true)]
    [InlineData("app=", true)]
    [InlineData("app", false)]
    [InlineData("=web", false)]
    [InlineData("app=web,app=api", false)]
    [InlineData("app=web,", false)]
    [InlineData("app=-web", false)]
    [InlineData("", false)]
    public void IsSelector_AcceptsEqualitySelectorsWithDistinctKeys(string text, bool expected) =>
        Assert.Equal(expected, NetworkPolicyRules.IsSelector(text));

    [Theory]
    [InlineData("10.0.0.0/8", true)]
    [InlineData("192.0.2.10", true)]
    [InlineData("192.0.2.10:8545", true)]
    [InlineData("10.0.0.0/8:443", true)]
    [InlineData("2001:db8::/32", true)]
    [InlineData("2001:db8::1", true)]
    [InlineData("[2001:db8::1]:443", true)]
    [InlineData("10.0.0.1/8", true)]
    [InlineData("10.0.0.0/33", false)]
    [InlineData("10.1", false)]
    [InlineData("192.0.2.10:0", false)]
    [InlineData("192.0.2.10:65536", false)]
    [InlineData("chain.local:8545", false)]
    [InlineData("chain.local", false)]
    [InlineData("[192.0.2.10]:443", false)]
    [InlineData("", false)]
    public void IsEgressTarget_AcceptsAddressesAndBlocksWithAnOptionalPort_NotHostNames(string text, bool expected) =>
        Assert.Equal(expected, NetworkPolicyRules.IsEgressTarget(text));
}

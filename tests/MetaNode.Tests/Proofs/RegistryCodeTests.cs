using System.Buffers.Binary;
using MetaNode.Chain;
using MetaNode.Proofs;

namespace MetaNode.Tests.Proofs;

/// <summary>What the verifiers' <c>registry-code</c> check accepts: the compiled ResultRegistry with its immutables filled for this chain and address, nothing else.</summary>
public sealed class RegistryCodeTests
{
    private static readonly RegistryDomain Domain = new(31337, "0x5fbdb2315678afecb367f032d93f642f64180aa3");

    [Fact]
    public void TheCompiledCode_WithItsImmutablesFilled_IsTheRegistry()
    {
        Assert.Equal(2, RegistryCode.Instance.Immutables.Count);
        Assert.Null(RegistryCode.Instance.Mismatch(Deployed(Domain), Domain));
    }

    [Fact]
    public void OneChangedByte_OutsideTheImmutables_IsRefusedNamingIt()
    {
        var code = Deployed(Domain);
        var at = RegistryCode.Instance.Immutables[0].Start - 1;
        code[at] ^= 0x01;
        Assert.Equal($"its code differs from the ResultRegistry's at byte {at}.", RegistryCode.Instance.Mismatch(code, Domain));
    }

    [Fact]
    public void ImmutablesOfAnotherChainOrAddress_AndOtherLengths_AreRefused()
    {
        Assert.Contains("is neither the chain id nor the registry's domain separator", RegistryCode.Instance.Mismatch(Deployed(Domain with { ChainId = 1 }), Domain), StringComparison.Ordinal);
        Assert.Contains("is neither", RegistryCode.Instance.Mismatch(Deployed(Domain with { Registry = "0x" + new string('1', 40) }), Domain), StringComparison.Ordinal);
        Assert.Contains("bytes; the ResultRegistry's is", RegistryCode.Instance.Mismatch(Deployed(Domain)[..^1], Domain), StringComparison.Ordinal);
        Assert.Equal("there is no contract at that address.", RegistryCode.Instance.Mismatch([], Domain));
    }

    /// <summary>The runtime code as the constructor leaves it: the chain id in the first immutable, the domain separator in the second.</summary>
    private static byte[] Deployed(RegistryDomain domain)
    {
        var code = RegistryCode.Instance.Runtime.ToArray();
        var (chain, separator) = (RegistryCode.Instance.Immutables[0], RegistryCode.Instance.Immutables[1]);
        BinaryPrimitives.WriteInt64BigEndian(code.AsSpan(chain.Start + 24, 8), domain.ChainId);
        RegistryTypedData.DomainSeparator(domain).CopyTo(code, separator.Start);
        return code;
    }
}

using MetaNode.Chain;

namespace MetaNode.Workload.Keys;

/// <summary>
/// The vPod's own secp256k1 key, held by the workload and nowhere else: it answers its address and signs EIP-712 digests
/// (65 bytes <c>r ‖ s ‖ v</c>, RFC 6979, so the same digest always gives the same signature). The private key never leaves this class.
/// </summary>
public sealed class VPodKey
{
    private readonly byte[] _privateKey;

    private VPodKey(byte[] privateKey, string address)
    {
        _privateKey = privateKey;
        Address = address;
    }

    /// <summary>The key's Ethereum address, lower-case <c>0x</c> hex.</summary>
    public string Address { get; }

    /// <summary>The key of a 32-byte big-endian scalar; throws <see cref="ArgumentException"/> when it is zero or not below the curve order.</summary>
    public static VPodKey FromPrivateKey(ReadOnlySpan<byte> privateKey) => new(privateKey.ToArray(), AddressOf(privateKey));

    /// <summary>The lower-case address of a private key: the last 20 bytes of keccak-256 of the uncompressed public key (without its 0x04 prefix).</summary>
    public static string AddressOf(ReadOnlySpan<byte> privateKey) => EthereumSignatures.AddressOf(privateKey);

    /// <summary>Signs a 32-byte digest: <c>0x</c> + 130 lower-case hex digits.</summary>
    public string Sign(ReadOnlySpan<byte> digest) => "0x" + Convert.ToHexStringLower(EthereumSignatures.Sign(_privateKey, digest));

    /// <summary>The private key as the key file stores it (<c>0x</c> + 64 lower-case hex digits); only <see cref="VPodKeyFile"/> writes it.</summary>
    internal string PrivateKeyHex() => "0x" + Convert.ToHexStringLower(_privateKey);

    public override string ToString() => Address;
}

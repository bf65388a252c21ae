using System.Buffers.Binary;
using System.Text;
using MetaNode.Federation;

namespace MetaNode.Chain;

/// <summary>
/// The EIP-712 messages a vPod's own key signs outside the registry, under the domain
/// <c>EIP712Domain(string name,string version,uint256 chainId)</c> with name "MetaNode vPod" and version "2":
/// <list type="bullet">
/// <item><c>Identity(string vpod,bytes32 nonce,uint256 chainId)</c>: the workload proves it holds the key of an address, over a fresh nonce;</item>
/// <item><c>TrainingReceipt(string job,uint256 round,string vpod,uint256 sampleCount,bytes32 updateHash)</c> (<see cref="ReceiptHashing"/>): a compute workload's own receipt.</item>
/// </list>
/// Each type has its own type hash, so no signature over one is ever valid as another; round results and rotations are signed under
/// the registry's domain (<see cref="RegistryTypedData"/>). No vPod signs raw bytes.
/// </summary>
public static class VPodTypedData
{
    public const string DomainName = "MetaNode vPod";
    public const string DomainVersion = "2";
    public const string DomainType = "EIP712Domain(string name,string version,uint256 chainId)";
    public const string IdentityType = "Identity(string vpod,bytes32 nonce,uint256 chainId)";

    private static readonly byte[] DomainTypeHash = FederationHashing.Keccak256(Encoding.UTF8.GetBytes(DomainType));
    private static readonly byte[] IdentityTypeHash = FederationHashing.Keccak256(Encoding.UTF8.GetBytes(IdentityType));

    public static byte[] DomainSeparator(long chainId)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(chainId);
        var encoded = new byte[4 * 32];
        DomainTypeHash.CopyTo(encoded, 0);
        FederationHashing.Keccak256(Encoding.UTF8.GetBytes(DomainName)).CopyTo(encoded, 32);
        FederationHashing.Keccak256(Encoding.UTF8.GetBytes(DomainVersion)).CopyTo(encoded, 64);
        WriteUInt256(encoded.AsSpan(96), (ulong)chainId);
        return FederationHashing.Keccak256(encoded);
    }

    public static byte[] IdentityStructHash(string vpodId, ReadOnlySpan<byte> nonce, long chainId)
    {
        ArgumentException.ThrowIfNullOrEmpty(vpodId);
        ArgumentOutOfRangeException.ThrowIfNegative(chainId);
        if (nonce.Length != FederationHashing.HashLength)
        {
            throw new ArgumentException("An identity nonce is 32 bytes.", nameof(nonce));
        }

        var encoded = new byte[4 * 32];
        IdentityTypeHash.CopyTo(encoded, 0);
        FederationHashing.Keccak256(Encoding.UTF8.GetBytes(vpodId)).CopyTo(encoded, 32);
        nonce.CopyTo(encoded.AsSpan(64));
        WriteUInt256(encoded.AsSpan(96), (ulong)chainId);
        return FederationHashing.Keccak256(encoded);
    }

    /// <summary>The digest a workload signs to prove its key: <c>keccak256(0x19 0x01 ‖ domainSeparator(chainId) ‖ Identity struct hash)</c>.</summary>
    public static byte[] IdentityDigest(string vpodId, ReadOnlySpan<byte> nonce, long chainId) =>
        Digest(chainId, IdentityStructHash(vpodId, nonce, chainId));

    /// <summary>The digest a compute workload signs for its receipt on chain <paramref name="chainId"/>.</summary>
    public static byte[] ReceiptDigest(TrainingReceipt receipt, long chainId) =>
        ReceiptHashing.SigningDigest(DomainSeparator(chainId), receipt);

    /// <summary>The address that signed the identity, or null when the signature is malformed or was made over anything else.</summary>
    public static string? RecoverIdentity(string vpodId, ReadOnlySpan<byte> nonce, long chainId, string? signature) =>
        EthereumSignatures.ParseSignature(signature) is { } bytes ? EthereumSignatures.RecoverAddress(IdentityDigest(vpodId, nonce, chainId), bytes) : null;

    /// <summary>True when <paramref name="receipt"/>'s signature recovers to <paramref name="address"/> on chain <paramref name="chainId"/>.</summary>
    public static bool ReceiptSignedBy(TrainingReceipt receipt, long chainId, string address)
    {
        ArgumentNullException.ThrowIfNull(receipt);
        if (EthereumSignatures.ParseSignature(receipt.Signature) is not { } bytes)
        {
            return false;
        }

        byte[] digest;
        try
        {
            digest = ReceiptDigest(receipt, chainId);
        }
        catch (Exception exception) when (exception is FormatException or ArgumentException)
        {
            // A receipt that cannot be hashed (a malformed update hash, a negative count) is signed by no one.
            return false;
        }

        return EthereumSignatures.RecoverAddress(digest, bytes) is { } signer && string.Equals(signer, address, StringComparison.OrdinalIgnoreCase);
    }

    private static byte[] Digest(long chainId, byte[] structHash)
    {
        var message = new byte[2 + 2 * 32];
        message[0] = 0x19;
        message[1] = 0x01;
        DomainSeparator(chainId).CopyTo(message, 2);
        structHash.CopyTo(message, 34);
        return FederationHashing.Keccak256(message);
    }

    private static void WriteUInt256(Span<byte> destination, ulong value)
    {
        destination[..32].Clear();
        BinaryPrimitives.WriteUInt64BigEndian(destination[24..32], value);
    }
}

using System.Buffers.Binary;
using System.Text;

namespace MetaNode.Federation;

/// <summary>
/// The canonical hash of a <see cref="TrainingReceipt"/>: its EIP-712 struct hash
/// <code>
/// keccak256(abi.encode(TYPEHASH, keccak256(bytes(job)), uint256(round), keccak256(bytes(vpod)), uint256(sampleCount), updateHash))
/// TYPEHASH = keccak256("TrainingReceipt(string job,uint256 round,string vpod,uint256 sampleCount,bytes32 updateHash)")
/// </code>
/// Strings are UTF-8. A vPod signs the EIP-712 digest <c>keccak256(0x19 0x01 ‖ domainSeparator ‖ structHash)</c> of this hash (see
/// <see cref="SigningDigest"/>); a contract can recompute both, and the receipts' Merkle root is built over these struct hashes.
/// </summary>
public static class ReceiptHashing
{
    public const string TypeSignature = "TrainingReceipt(string job,uint256 round,string vpod,uint256 sampleCount,bytes32 updateHash)";

    public static byte[] TypeHash { get; } = FederationHashing.Keccak256(Encoding.UTF8.GetBytes(TypeSignature));

    public static byte[] Hash(TrainingReceipt receipt)
    {
        ArgumentNullException.ThrowIfNull(receipt);
        ArgumentException.ThrowIfNullOrEmpty(receipt.Job);
        ArgumentException.ThrowIfNullOrEmpty(receipt.VPodId);
        ArgumentOutOfRangeException.ThrowIfNegative(receipt.Round);
        ArgumentOutOfRangeException.ThrowIfNegative(receipt.SampleCount);
        var encoded = new byte[6 * 32];
        TypeHash.CopyTo(encoded, 0);
        FederationHashing.Keccak256(Encoding.UTF8.GetBytes(receipt.Job)).CopyTo(encoded, 32);
        WriteUInt256(encoded.AsSpan(64, 32), (ulong)receipt.Round);
        FederationHashing.Keccak256(Encoding.UTF8.GetBytes(receipt.VPodId)).CopyTo(encoded, 96);
        WriteUInt256(encoded.AsSpan(128, 32), (ulong)receipt.SampleCount);
        FederationHashing.ParseHash(receipt.UpdateHash).CopyTo(encoded, 160);
        return FederationHashing.Keccak256(encoded);
    }

    public static string HashHex(TrainingReceipt receipt) => FederationHashing.ToHex(Hash(receipt));

    /// <summary>
    /// The seam for signing: the EIP-712 digest of a receipt under a domain separator (the chain's domain: name, version, chain id,
    /// verifying contract). A vPod's secp256k1 key signs this digest; a verifier recovers the signer from it.
    /// </summary>
    public static byte[] SigningDigest(ReadOnlySpan<byte> domainSeparator, TrainingReceipt receipt)
    {
        if (domainSeparator.Length != FederationHashing.HashLength)
        {
            throw new ArgumentException("The EIP-712 domain separator is 32 bytes.", nameof(domainSeparator));
        }

        var message = new byte[2 + 2 * FederationHashing.HashLength];
        message[0] = 0x19;
        message[1] = 0x01;
        domainSeparator.CopyTo(message.AsSpan(2));
        Hash(receipt).CopyTo(message, 2 + FederationHashing.HashLength);
        return FederationHashing.Keccak256(message);
    }

    private static void WriteUInt256(Span<byte> destination, ulong value)
    {
        destination.Clear();
        BinaryPrimitives.WriteUInt64BigEndian(destination[^8..], value);
    }
}

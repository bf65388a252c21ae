using System.Buffers.Binary;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using MetaNode.Chain;

namespace MetaNode.Federation.SecureAggregation;

/// <summary>Which secret a revealed share belongs to: a survivor's self-mask seed, or a dropped vPod's mask private key.</summary>
public enum ShareKind
{
    SelfMask,
    MaskKey,
}

/// <summary>A share a compute vPod reveals for a peer in the unmasking stage.</summary>
public sealed record RevealedShare(string Peer, ShareKind Kind, byte[] Share);

/// <summary>
/// The canonical bytes and EIP-712 messages of secure aggregation (vPod domain):
/// <c>SecAggKeys(string job,uint256 round,string vpod,bytes cipherKey,bytes maskKey)</c>,
/// <c>SecAggSurvivors(string job,uint256 round,string vpod,bytes32 survivors)</c> and
/// <c>SecAggReveal(string job,uint256 round,string vpod,bytes32 shares)</c>; and the masked update's encoding, whose keccak-256 is
/// the update hash of the vPod's training receipt.
/// </summary>
public static class SecAggEncoding
{
    public const string KeysType = "SecAggKeys(string job,uint256 round,string vpod,bytes cipherKey,bytes maskKey)";
    public const string SurvivorsType = "SecAggSurvivors(string job,uint256 round,string vpod,bytes32 survivors)";
    public const string RevealType = "SecAggReveal(string job,uint256 round,string vpod,bytes32 shares)";

    public static string KindName(ShareKind kind) => kind == ShareKind.SelfMask ? "self-mask" : "mask-key";

    public static ShareKind? ParseKind(string? text) => text switch
    {
        "self-mask" => ShareKind.SelfMask,
        "mask-key" => ShareKind.MaskKey,
        _ => null,
    };

    /// <summary><c>MNS1 ‖ uint32 L ‖ L × uint32 ‖ uint64 maxSamples ‖ uint32 m ‖ m × (uint32 length ‖ UTF-8 id)</c>, little-endian, ids ordinal.</summary>
    public static byte[] EncodeMasked(ReadOnlySpan<uint> masked, long maxSamples, IEnumerable<string> maskedWith)
    {
        var ids = maskedWith.Order(StringComparer.Ordinal).Select(Encoding.UTF8.GetBytes).ToList();
        var bytes = new byte[4 + 4 + (4 * masked.Length) + 8 + 4 + ids.Sum(id => 4 + id.Length)];
        "MNS1"u8.CopyTo(bytes);
        var offset = 4;
        BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(offset), (uint)masked.Length);
        offset += 4;
        foreach (var value in masked)
        {
            BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(offset), value);
            offset += 4;
        }

        BinaryPrimitives.WriteUInt64LittleEndian(bytes.AsSpan(offset), (ulong)maxSamples);
        offset += 8;
        BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(offset), (uint)ids.Count);
        offset += 4;
        foreach (var id in ids)
        {
            BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(offset), (uint)id.Length);
            id.CopyTo(bytes, offset + 4);
            offset += 4 + id.Length;
        }

        return bytes;
    }

    public static string MaskedHashHex(ReadOnlySpan<uint> masked, long maxSamples, IEnumerable<string> maskedWith) =>
        FederationHashing.ToHex(FederationHashing.Keccak256(EncodeMasked(masked, maxSamples, maskedWith)));

    /// <summary><c>keccak256</c> of the ordinal-sorted ids, each followed by a newline.</summary>
    public static byte[] SurvivorsHash(IEnumerable<string> survivors) =>
        FederationHashing.Keccak256(Encoding.UTF8.GetBytes(string.Concat(survivors.Order(StringComparer.Ordinal).Select(s => s + "\n"))));

    /// <summary><c>keccak256</c> of <c>"{peer} {kind} {share}\n"</c> per share, sorted by ordinal peer id (then kind).</summary>
    public static byte[] SharesHash(IEnumerable<RevealedShare> shares) =>
        FederationHashing.Keccak256(Encoding.UTF8.GetBytes(string.Concat(shares
            .OrderBy(s => s.Peer, StringComparer.Ordinal).ThenBy(s => KindName(s.Kind), StringComparer.Ordinal)
            .Select(s => string.Create(CultureInfo.InvariantCulture, $"{s.Peer} {KindName(s.Kind)} {Convert.ToHexStringLower(s.Share).Insert(0, "0x")}\n")))));

    public static byte[] KeysDigest(long chainId, string job, int round, string vpod, ReadOnlySpan<byte> cipherKey, ReadOnlySpan<byte> maskKey) =>
        Digest(chainId, KeysType, job, round, vpod, FederationHashing.Keccak256(cipherKey), FederationHashing.Keccak256(maskKey));

    public static byte[] SurvivorsDigest(long chainId, string job, int round, string vpod, IEnumerable<string> survivors) =>
        Digest(chainId, SurvivorsType, job, round, vpod, SurvivorsHash(survivors));

    public static byte[] RevealDigest(long chainId, string job, int round, string vpod, IEnumerable<RevealedShare> shares) =>
        Digest(chainId, RevealType, job, round, vpod, SharesHash(shares));

    /// <summary>True when <paramref name="signature"/> over <paramref name="digest"/> recovers to <paramref name="address"/>.</summary>
    public static bool SignedBy(byte[] digest, string? signature, string address) =>
        EthereumSignatures.ParseSignature(signature) is { } bytes
        && EthereumSignatures.RecoverAddress(digest, bytes) is { } signer
        && string.Equals(signer, address, StringComparison.OrdinalIgnoreCase);

    private static byte[] Digest(long chainId, string type, string job, int round, string vpod, params byte[][] words)
    {
        ArgumentException.ThrowIfNullOrEmpty(job);
        ArgumentException.ThrowIfNullOrEmpty(vpod);
        ArgumentOutOfRangeException.ThrowIfNegative(round);
        var encoded = new byte[(4 + words.Length) * 32];
        FederationHashing.Keccak256(Encoding.UTF8.GetBytes(type)).CopyTo(encoded, 0);
        FederationHashing.Keccak256(Encoding.UTF8.GetBytes(job)).CopyTo(encoded, 32);
        BinaryPrimitives.WriteUInt64BigEndian(encoded.AsSpan(64 + 24), (ulong)round);
        FederationHashing.Keccak256(Encoding.UTF8.GetBytes(vpod)).CopyTo(encoded, 96);
        for (var i = 0; i < words.Length; i++)
        {
            words[i].CopyTo(encoded, (4 + i) * 32);
        }

        var message = new byte[66];
        message[0] = 0x19;
        message[1] = 0x01;
        VPodTypedData.DomainSeparator(chainId).CopyTo(message, 2);
        FederationHashing.Keccak256(encoded).CopyTo(message, 34);
        return FederationHashing.Keccak256(message);
    }
}

/// <summary>
/// A share message between two compute vPods, sealed with AES-256-GCM under a key agreed from their cipher keys: the silo and the
/// stream carry it but cannot read it. On the wire: <c>nonce(12) ‖ ciphertext ‖ tag(16)</c>.
/// </summary>
public static class ShareEnvelope
{
    private const int NonceLength = 12;
    private const int TagLength = 16;

    public static byte[] AssociatedData(string job, int round, string from, string to) =>
        Encoding.UTF8.GetBytes(string.Create(CultureInfo.InvariantCulture, $"{MaskMath.ShareInfo}\n{job}\n{round}\n{from}\n{to}"));

    public static byte[] Seal(ReadOnlySpan<byte> ownCipherPrivate, ReadOnlySpan<byte> peerCipherPublic, ReadOnlySpan<byte> associatedData, ReadOnlySpan<byte> plaintext)
    {
        var key = MaskMath.Hkdf(P256Keys.SharedSecret(ownCipherPrivate, peerCipherPublic), MaskMath.ShareInfo);
        var sealedBytes = new byte[NonceLength + plaintext.Length + TagLength];
        var nonce = sealedBytes.AsSpan(0, NonceLength);
        RandomNumberGenerator.Fill(nonce);
        using var aes = new AesGcm(key, TagLength);
        aes.Encrypt(nonce, plaintext, sealedBytes.AsSpan(NonceLength, plaintext.Length), sealedBytes.AsSpan(NonceLength + plaintext.Length), associatedData);
        return sealedBytes;
    }

    /// <summary>The plaintext, or null when the envelope was not sealed for these keys and this associated data.</summary>
    public static byte[]? Open(ReadOnlySpan<byte> ownCipherPrivate, ReadOnlySpan<byte> peerCipherPublic, ReadOnlySpan<byte> associatedData, ReadOnlySpan<byte> envelope)
    {
        if (envelope.Length < NonceLength + TagLength)
        {
            return null;
        }

        try
        {
            var key = MaskMath.Hkdf(P256Keys.SharedSecret(ownCipherPrivate, peerCipherPublic), MaskMath.ShareInfo);
            var plaintext = new byte[envelope.Length - NonceLength - TagLength];
            using var aes = new AesGcm(key, TagLength);
            aes.Decrypt(envelope[..NonceLength], envelope[NonceLength..^TagLength], envelope[^TagLength..], plaintext, associatedData);
            return plaintext;
        }
        catch (CryptographicException)
        {
            return null;
        }
    }
}

using System.Globalization;
using System.Text;
using Nethereum.Util;
using Secp256k1Net;

namespace MetaNode.Chain;

/// <summary>
/// secp256k1 signatures as Ethereum writes them: 65 bytes <c>r ‖ s ‖ v</c> with <c>v = 27 + recovery id</c>, low s, the nonce
/// from RFC 6979 (so the same key and digest always give the same bytes, equal to Nethereum's). Signing and recovery run in
/// libsecp256k1 itself (Bitcoin Core's C library, through Secp256k1.Net): validators check every receipt of every round and
/// the job checks every vote, so this is on each round's critical path, and under a vPod's cpu quota. The managed port used
/// before (NBitcoin.Secp256k1) took 148 µs a recovery and 166 µs a signature here, the C library 33 and 19 µs, with the same
/// bytes out and the same signatures refused.
/// </summary>
public static class EthereumSignatures
{
    public const int SignatureLength = 65;
    public const int PrivateKeyLength = 32;
    public const int DigestLength = 32;

    /// <summary>
    /// The library's context, made once for the process and shared: its signing and recovery only read it, so concurrent calls
    /// are safe. Every argument handed to it is checked first (lengths, a recovery id of 0–3), never left to the library's
    /// own argument checks.
    /// </summary>
    private static readonly Secp256k1 Secp = new();

    /// <summary>Signs a 32-byte digest with a 32-byte private key.</summary>
    public static byte[] Sign(ReadOnlySpan<byte> privateKey, ReadOnlySpan<byte> digest)
    {
        if (digest.Length != DigestLength)
        {
            throw new ArgumentException($"A digest is {DigestLength} bytes; got {digest.Length}.", nameof(digest));
        }

        CheckPrivateKey(privateKey);
        Span<byte> signature = stackalloc byte[Secp256k1.UNSERIALIZED_SIGNATURE_SIZE];
        if (!Secp.EcdsaSignRecoverable(signature, digest, privateKey))
        {
            throw new InvalidOperationException("secp256k1 signing failed.");
        }

        var bytes = new byte[SignatureLength];
        Secp.EcdsaRecoverableSignatureSerializeCompact(bytes.AsSpan(0, 64), out var recoveryId, signature);
        bytes[64] = (byte)(27 + recoveryId);
        return bytes;
    }

    /// <summary>The lower-case <c>0x</c> address whose key made <paramref name="signature"/> over <paramref name="digest"/>, or null when the signature is malformed or recovers no key.</summary>
    public static string? RecoverAddress(ReadOnlySpan<byte> digest, ReadOnlySpan<byte> signature)
    {
        if (digest.Length != DigestLength || signature.Length != SignatureLength)
        {
            return null;
        }

        var v = signature[64];
        var recoveryId = v >= 27 ? v - 27 : v;
        Span<byte> parsed = stackalloc byte[Secp256k1.UNSERIALIZED_SIGNATURE_SIZE];
        Span<byte> publicKey = stackalloc byte[Secp256k1.UNSERIALIZED_PUBKEY_LENGTH];
        if (recoveryId is < 0 or > 3
            || !Secp.EcdsaRecoverableSignatureParseCompact(parsed, signature[..64], recoveryId)
            || !Secp.EcdsaRecover(publicKey, parsed, digest))
        {
            return null;
        }

        return AddressOfPublicKey(publicKey);
    }

    /// <summary>The lower-case <c>0x</c> address of a 32-byte private key: the last 20 bytes of keccak-256 of the uncompressed public key.</summary>
    public static string AddressOf(ReadOnlySpan<byte> privateKey)
    {
        CheckPrivateKey(privateKey);
        Span<byte> publicKey = stackalloc byte[Secp256k1.UNSERIALIZED_PUBKEY_LENGTH];
        if (!Secp.EcPubkeyCreate(publicKey, privateKey))
        {
            throw new InvalidOperationException("secp256k1 could not derive the public key.");
        }

        return AddressOfPublicKey(publicKey);
    }

    /// <summary>Whether <paramref name="privateKey"/> is a usable key: 32 bytes, a non-zero scalar below the curve order.</summary>
    public static bool IsPrivateKey(ReadOnlySpan<byte> privateKey) => privateKey.Length == PrivateKeyLength && Secp256k1.IsValidSecretKey(privateKey);

    private static void CheckPrivateKey(ReadOnlySpan<byte> privateKey)
    {
        if (!IsPrivateKey(privateKey))
        {
            throw new ArgumentException("A private key is 32 bytes, a non-zero scalar below the curve order.", nameof(privateKey));
        }
    }

    /// <summary>The last 20 bytes of keccak-256 of the uncompressed public key (without its 0x04 prefix), as lower-case <c>0x</c> hex.</summary>
    private static string AddressOfPublicKey(ReadOnlySpan<byte> publicKey)
    {
        Span<byte> uncompressed = stackalloc byte[Secp256k1.SERIALIZED_UNCOMPRESSED_PUBKEY_LENGTH];
        nuint length = (nuint)uncompressed.Length;
        Secp.EcPubkeySerialize(uncompressed, ref length, publicKey, Secp256k1EcFlags.Uncompressed);
        return "0x" + Convert.ToHexStringLower(Sha3Keccack.Current.CalculateHash(uncompressed[1..].ToArray()).AsSpan(12));
    }

    /// <summary>Parses <c>0x</c> + 130 hex digits; null when the text is not a 65-byte signature.</summary>
    public static byte[]? ParseSignature(string? text)
    {
        if (text is null)
        {
            return null;
        }

        var hex = text.StartsWith("0x", StringComparison.OrdinalIgnoreCase) ? text.AsSpan(2) : text.AsSpan();
        if (hex.Length != 2 * SignatureLength)
        {
            return null;
        }

        var bytes = new byte[SignatureLength];
        return Convert.FromHexString(hex, bytes, out _, out var written) == System.Buffers.OperationStatus.Done && written == SignatureLength ? bytes : null;
    }

    /// <summary>EIP-191 version 0x45 ("personal_sign"): <c>keccak256("\x19Ethereum Signed Message:\n" ‖ len(message) ‖ message)</c>.</summary>
    public static byte[] PersonalMessageDigest(ReadOnlySpan<byte> message)
    {
        var prefix = Encoding.ASCII.GetBytes("\u0019Ethereum Signed Message:\n" + message.Length.ToString(CultureInfo.InvariantCulture));
        var data = new byte[prefix.Length + message.Length];
        prefix.CopyTo(data, 0);
        message.CopyTo(data.AsSpan(prefix.Length));
        return Sha3Keccack.Current.CalculateHash(data);
    }

    /// <summary>A private key as exactly 32 big-endian bytes (a key's integer form may be shorter).</summary>
    public static byte[] PrivateKeyBytes(byte[] key)
    {
        ArgumentNullException.ThrowIfNull(key);
        if (key.Length == PrivateKeyLength)
        {
            return key;
        }

        var trimmed = key.AsSpan().TrimStart((byte)0);
        if (trimmed.Length > PrivateKeyLength)
        {
            throw new ArgumentException("A private key is at most 32 bytes.", nameof(key));
        }

        var padded = new byte[PrivateKeyLength];
        trimmed.CopyTo(padded.AsSpan(PrivateKeyLength - trimmed.Length));
        return padded;
    }
}

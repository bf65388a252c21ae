using System.Security.Cryptography;

namespace MetaNode.Federation.SecureAggregation;

/// <summary>
/// P-256 key agreement from the platform: a public key is <c>0x04 ‖ X ‖ Y</c> (65 bytes), a private key its 32-byte scalar, and
/// the shared secret the X coordinate of the product (what <c>ECDH</c> gives in any library).
/// </summary>
public static class P256Keys
{
    public const int PublicKeyLength = 65;

    /// <summary>A fresh key pair: (private scalar, public key).</summary>
    public static (byte[] Private, byte[] Public) Create()
    {
        using var key = ECDiffieHellman.Create(ECCurve.NamedCurves.nistP256);
        var parameters = key.ExportParameters(includePrivateParameters: true);
        return (Pad(parameters.D!), Public(parameters.Q));
    }

    /// <summary>The public key of a private scalar; throws <see cref="CryptographicException"/> when it is no valid scalar.</summary>
    public static byte[] PublicOf(ReadOnlySpan<byte> privateKey)
    {
        using var key = ECDiffieHellman.Create(new ECParameters { Curve = ECCurve.NamedCurves.nistP256, D = privateKey.ToArray() });
        return Public(key.ExportParameters(false).Q);
    }

    /// <summary>True when <paramref name="publicKey"/> is an uncompressed point on P-256.</summary>
    public static bool IsPublicKey(ReadOnlySpan<byte> publicKey)
    {
        try
        {
            using var key = Import(publicKey);
            return true;
        }
        catch (CryptographicException)
        {
            return false;
        }
    }

    /// <summary>The X coordinate of <c>privateKey · publicKey</c>.</summary>
    public static byte[] SharedSecret(ReadOnlySpan<byte> privateKey, ReadOnlySpan<byte> publicKey)
    {
        using var own = ECDiffieHellman.Create(new ECParameters { Curve = ECCurve.NamedCurves.nistP256, D = privateKey.ToArray() });
        using var other = Import(publicKey);
        return own.DeriveRawSecretAgreement(other.PublicKey);
    }

    private static ECDiffieHellman Import(ReadOnlySpan<byte> publicKey)
    {
        if (publicKey.Length != PublicKeyLength || publicKey[0] != 0x04)
        {
            throw new CryptographicException("A P-256 public key is 0x04 and 64 bytes of coordinates.");
        }

        return ECDiffieHellman.Create(new ECParameters { Curve = ECCurve.NamedCurves.nistP256, Q = PointOf(publicKey) });
    }

    private static ECPoint PointOf(ReadOnlySpan<byte> publicKey) => new() { X = publicKey[1..33].ToArray(), Y = publicKey[33..65].ToArray() };

    private static byte[] Public(ECPoint q)
    {
        var bytes = new byte[PublicKeyLength];
        bytes[0] = 0x04;
        Pad(q.X!).CopyTo(bytes, 1);
        Pad(q.Y!).CopyTo(bytes, 33);
        return bytes;
    }

    private static byte[] Pad(byte[] value)
    {
        if (value.Length == 32)
        {
            return value;
        }

        var padded = new byte[32];
        value.CopyTo(padded, 32 - value.Length);
        return padded;
    }
}

using MetaNode.Chain;
using System.Security.Cryptography;
using MetaNode.Grains.Chain;
using Nethereum.Hex.HexConvertors.Extensions;
using Nethereum.Signer;

namespace MetaNode.Tests.Chain;

/// <summary>The fast secp256k1 path gives Nethereum's bytes and recovers what Nethereum recovers.</summary>
public sealed class EthereumSignaturesTests
{
    [Fact]
    public void Signatures_equal_nethereums_byte_for_byte_and_recover_the_signer()
    {
        // 300 keys and digests: about one in 128 has an r or s with a leading zero byte, which must stay 32 bytes wide.
        for (var i = 0; i < 300; i++)
        {
            var key = EthECKey.GenerateKey();
            var digest = RandomNumberGenerator.GetBytes(32);
            var ours = EthereumSignatures.Sign(EthereumSignatures.PrivateKeyBytes(key.GetPrivateKeyAsBytes()), digest);
            var theirs = key.SignAndCalculateV(digest);
            Assert.Equal(theirs.R.PadLeft32(), ours[..32]);
            Assert.Equal(theirs.S.PadLeft32(), ours[32..64]);
            Assert.Equal(theirs.V[0], ours[64]);
            Assert.Equal(key.GetPublicAddress().ToLowerInvariant(), EthereumSignatures.RecoverAddress(digest, ours));
        }
    }

    [Fact]
    public void Personal_messages_match_nethereums_eip191_signer()
    {
        var signer = new EthereumMessageSigner();
        for (var i = 0; i < 50; i++)
        {
            var key = EthECKey.GenerateKey();
            var message = RandomNumberGenerator.GetBytes(32);
            var expected = signer.Sign(message, key);
            var ours = "0x" + Convert.ToHexStringLower(EthereumSignatures.Sign(EthereumSignatures.PrivateKeyBytes(key.GetPrivateKeyAsBytes()), EthereumSignatures.PersonalMessageDigest(message)));
            Assert.Equal(expected.EnsureHexPrefix().ToLowerInvariant(), ours);
            Assert.Equal(signer.EcRecover(message, ours).ToLowerInvariant(), EthereumSignatures.RecoverAddress(EthereumSignatures.PersonalMessageDigest(message), EthereumSignatures.ParseSignature(ours)!));
        }
    }

    [Fact]
    public void A_changed_digest_or_signature_recovers_another_address_or_none()
    {
        var key = EthECKey.GenerateKey();
        var digest = RandomNumberGenerator.GetBytes(32);
        var signature = EthereumSignatures.Sign(EthereumSignatures.PrivateKeyBytes(key.GetPrivateKeyAsBytes()), digest);
        var address = key.GetPublicAddress().ToLowerInvariant();

        var otherDigest = (byte[])digest.Clone();
        otherDigest[0] ^= 1;
        Assert.NotEqual(address, EthereumSignatures.RecoverAddress(otherDigest, signature));

        var flippedV = (byte[])signature.Clone();
        flippedV[64] = (byte)(flippedV[64] == 27 ? 28 : 27);
        Assert.NotEqual(address, EthereumSignatures.RecoverAddress(digest, flippedV));

        var zeroR = (byte[])signature.Clone();
        Array.Clear(zeroR, 0, 32);
        Assert.Null(EthereumSignatures.RecoverAddress(digest, zeroR));

        var badV = (byte[])signature.Clone();
        badV[64] = 31;
        Assert.Null(EthereumSignatures.RecoverAddress(digest, badV));
        Assert.Null(EthereumSignatures.RecoverAddress(digest, signature[..64]));
        Assert.Null(EthereumSignatures.RecoverAddress(digest[..31], signature));
    }

    [Fact]
    public void High_s_recovers_like_ecrecover_and_an_s_past_the_order_or_a_raw_recovery_id_past_3_recovers_nothing()
    {
        // ecrecover (and so the registry's signature check) takes a high s; an s at or past the group order is no signature.
        var order = System.Numerics.BigInteger.Parse("0FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141", System.Globalization.NumberStyles.HexNumber);
        var key = EthECKey.GenerateKey();
        var digest = RandomNumberGenerator.GetBytes(32);
        var signature = EthereumSignatures.Sign(EthereumSignatures.PrivateKeyBytes(key.GetPrivateKeyAsBytes()), digest);
        var address = key.GetPublicAddress().ToLowerInvariant();
        var s = new System.Numerics.BigInteger(signature.AsSpan(32, 32), isUnsigned: true, isBigEndian: true);

        var highS = (byte[])signature.Clone();
        (order - s).ToByteArray(isUnsigned: true, isBigEndian: true).PadLeft32().CopyTo(highS, 32);
        highS[64] = (byte)(highS[64] == 27 ? 28 : 27);
        var nethereum = EthECKey.RecoverFromSignature(EthECDSASignatureFactory.FromComponents(highS[..32], highS[32..64], highS[64]), digest);
        Assert.Equal(address, EthereumSignatures.RecoverAddress(digest, highS));
        Assert.Equal(address, nethereum.GetPublicAddress().ToLowerInvariant());

        var rawId = (byte[])signature.Clone();
        rawId[64] -= 27;
        Assert.Equal(address, EthereumSignatures.RecoverAddress(digest, rawId));
        rawId[64] = 4;
        Assert.Null(EthereumSignatures.RecoverAddress(digest, rawId));

        var sAtOrder = (byte[])signature.Clone();
        order.ToByteArray(isUnsigned: true, isBigEndian: true).PadLeft32().CopyTo(sAtOrder, 32);
        Assert.Null(EthereumSignatures.RecoverAddress(digest, sAtOrder));
        Assert.Null(EthereumSignatures.RecoverAddress(digest, new byte[65]));
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("0x1234")]
    [InlineData("0xzz")]
    public void Malformed_signature_text_parses_to_null(string? text) => Assert.Null(EthereumSignatures.ParseSignature(text));

    [Fact]
    public void Private_keys_are_padded_to_32_bytes_and_bad_keys_are_refused()
    {
        var shortKey = new byte[31];
        shortKey[30] = 7;
        var padded = EthereumSignatures.PrivateKeyBytes(shortKey);
        Assert.Equal(32, padded.Length);
        Assert.Equal(7, padded[31]);
        Assert.Equal(0, padded[0]);

        var digest = new byte[32];
        Assert.Throws<ArgumentException>(() => EthereumSignatures.Sign(new byte[32], digest));
        Assert.Throws<ArgumentException>(() => EthereumSignatures.Sign(Enumerable.Repeat((byte)0xff, 32).ToArray(), digest));
        Assert.Throws<ArgumentException>(() => EthereumSignatures.Sign(padded, new byte[31]));
    }
}

internal static class SignatureBytes
{
    public static byte[] PadLeft32(this byte[] value)
    {
        var padded = new byte[32];
        value.AsSpan(Math.Max(0, value.Length - 32)).CopyTo(padded.AsSpan(Math.Max(0, 32 - value.Length)));
        return padded;
    }
}

/// <summary>EIP-1559 transactions signed on the fast path are the bytes Nethereum's signer produces.</summary>
public sealed class TransactionSigningTests
{
    [Fact]
    public void Signed_transactions_equal_nethereums_raw_bytes_and_recover_the_sender()
    {
        // 300 transactions: half have y parity 0, and about one in 128 an r or s with a leading zero byte.
        for (var i = 0; i < 300; i++)
        {
            var key = EthECKey.GenerateKey();
            var to = EthECKey.GenerateKey().GetPublicAddress();
            var data = "0x" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(4 + (i % 100)));
            Nethereum.Model.Transaction1559 Build() => new(31337, i, 1_000_000_000, 3_000_000_000 + i, 90_000 + i, to, 0, data, []);

            var expected = new Nethereum.Signer.Transaction1559Signer().SignTransaction(key, Build()).EnsureHexPrefix();
            var ours = TransactionSigning.SignTransaction(Build(), EthereumSignatures.PrivateKeyBytes(key.GetPrivateKeyAsBytes())).ToHex(prefix: true);
            Assert.Equal(expected, ours);

            var decoded = (Nethereum.Model.Transaction1559)Nethereum.Model.TransactionFactory.CreateTransaction(ours);
            Assert.Equal(key.GetPublicAddress().ToLowerInvariant(), EthereumSignatures.RecoverAddress(
                Nethereum.Util.Sha3Keccack.Current.CalculateHash(decoded.GetRLPEncodedRaw()),
                [.. decoded.Signature.R.PadLeft32(), .. decoded.Signature.S.PadLeft32(), (byte)(27 + (decoded.Signature.V is [1] ? 1 : 0))]));
        }
    }
}

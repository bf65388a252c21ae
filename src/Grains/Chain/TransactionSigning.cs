using MetaNode.Chain;
using Nethereum.Model;
using Nethereum.Util;

namespace MetaNode.Grains.Chain;

/// <summary>EIP-1559 transactions signed with <see cref="EthereumSignatures"/> (the operator's account grain sends them).</summary>
public static class TransactionSigning
{
    /// <summary>
    /// Signs an EIP-1559 transaction: the signature over <c>keccak256(0x02 ‖ rlp(fields))</c>, with the y parity as v and r, s
    /// as RLP integers (no leading zero bytes). Returns the raw transaction bytes to send.
    /// </summary>
    public static byte[] SignTransaction(Transaction1559 transaction, ReadOnlySpan<byte> privateKey)
    {
        ArgumentNullException.ThrowIfNull(transaction);
        var signature = EthereumSignatures.Sign(privateKey, Sha3Keccack.Current.CalculateHash(transaction.GetRLPEncodedRaw()));
        transaction.SetSignature(new Signature(
            signature.AsSpan(0, 32).TrimStart((byte)0).ToArray(),
            signature.AsSpan(32, 32).TrimStart((byte)0).ToArray(),
            signature[64] == 27 ? [] : [1]));
        return transaction.GetRLPEncoded();
    }
}

using System.Numerics;
using System.Text;
using Nethereum.Hex.HexConvertors.Extensions;
using Nethereum.Util;

namespace MetaNode.Chain;

/// <summary>Where a registry lives: the EIP-712 domain is bound to both.</summary>
[GenerateSerializer, Immutable, Alias("MetaNode.Chain.RegistryDomain")]
public sealed record RegistryDomain([property: Id(0)] long ChainId, [property: Id(1)] string Registry);

/// <summary>
/// The ResultRegistry's EIP-712 hashing, computed here independently of the contract (tests check both agree):
/// domain <c>EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)</c> with name
/// "MetaNode ResultRegistry", version "1".
/// </summary>
public static class RegistryTypedData
{
    public const string DomainName = "MetaNode ResultRegistry";
    public const string DomainVersion = "1";
    public const string FinalizeRoundType = "FinalizeRound(bytes32 jobId,uint64 round,bytes32 resultHash,bytes32 receiptsRoot,bytes32 modelRef,bytes modelCid)";
    public const string RotateValidatorsType = "RotateValidators(address[] validators,uint64 threshold,uint64 nonce)";
    public const string ServerStateType = "ServerState(bytes32 jobId,uint64 round,bytes32 resultHash,bytes32 stateHash)";
    private const string DomainType = "EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)";

    private static readonly byte[] DomainTypeHash = Keccak(Encoding.UTF8.GetBytes(DomainType));
    private static readonly byte[] FinalizeTypeHash = Keccak(Encoding.UTF8.GetBytes(FinalizeRoundType));
    private static readonly byte[] RotateTypeHash = Keccak(Encoding.UTF8.GetBytes(RotateValidatorsType));
    private static readonly byte[] ServerStateTypeHash = Keccak(Encoding.UTF8.GetBytes(ServerStateType));

    public static byte[] DomainSeparator(RegistryDomain domain) => Keccak(Concat(
        DomainTypeHash,
        Keccak(Encoding.UTF8.GetBytes(DomainName)),
        Keccak(Encoding.UTF8.GetBytes(DomainVersion)),
        Word(domain.ChainId),
        AddressWord(domain.Registry)));

    public static byte[] FinalizeStructHash(RoundResult round)
    {
        ArgumentNullException.ThrowIfNull(round);
        HexValues.ValidateRound(round.Round);
        return Keccak(Concat(
            FinalizeTypeHash,
            HexValues.JobIdToBytes32(round.JobId),
            Word(round.Round),
            HexValues.ParseBytes32(round.ResultHash, "result hash"),
            HexValues.ParseBytes32(round.ReceiptsRoot, "receipts root"),
            HexValues.ParseBytes32(round.ModelRef, "model ref"),
            Keccak(RegistryModelCid.ToBytes(round))));
    }

    /// <summary>The digest validators sign for a round: its fields and the model's CID (empty for none), whose registry form <see cref="RegistryModelCid"/> checks.</summary>
    public static byte[] FinalizeDigest(RegistryDomain domain, RoundResult round) => TypedDigest(domain, FinalizeStructHash(round));

    /// <summary>The registry's stored commitment: the low 192 bits of the FinalizeRound struct hash (24 bytes).</summary>
    public static byte[] Commitment(RoundResult round) => FinalizeStructHash(round)[8..];

    /// <summary>
    /// The digest a validator signs for the server optimizer's state after a round (not sent to the chain): the job starts the next
    /// round from the state that a quorum of validators signed together with the round's result.
    /// </summary>
    public static byte[] ServerStateDigest(RegistryDomain domain, string jobId, int round, string resultHash, string stateHash)
    {
        HexValues.ValidateRound(round);
        return TypedDigest(domain, Keccak(Concat(
            ServerStateTypeHash,
            HexValues.JobIdToBytes32(jobId),
            Word(round),
            HexValues.ParseBytes32(resultHash, "result hash"),
            HexValues.ParseBytes32(stateHash, "state hash"))));
    }

    public static byte[] RotationDigest(RegistryDomain domain, IReadOnlyList<string> validators, int threshold, long nonce)
    {
        ArgumentNullException.ThrowIfNull(validators);
        var packed = Concat(validators.Select(v => AddressWord(v)).ToArray());
        return TypedDigest(domain, Keccak(Concat(RotateTypeHash, Keccak(packed), Word(threshold), Word(nonce))));
    }

    public static byte[] TypedDigest(RegistryDomain domain, byte[] structHash) =>
        Keccak(Concat([0x19, 0x01], DomainSeparator(domain), structHash));

    /// <summary>Signs a digest as the contract's ecrecover expects: 65 bytes r, s, v (v = 27 or 28), low s.</summary>
    public static string Sign(ReadOnlySpan<byte> privateKey, byte[] digest) =>
        EthereumSignatures.Sign(privateKey, digest).ToHex(prefix: true);

    /// <summary>The address that signed <paramref name="digest"/>, lower case.</summary>
    public static string Recover(byte[] digest, string signature)
    {
        var bytes = signature.HexToByteArray();
        if (bytes.Length != EthereumSignatures.SignatureLength)
        {
            throw new InvalidChainRequestException($"a signature must be 65 bytes, got {bytes.Length}.");
        }

        return EthereumSignatures.RecoverAddress(digest, bytes)
            ?? throw new InvalidChainRequestException("the signature recovers no public key.");
    }

    /// <summary>
    /// The <paramref name="count"/> signatures of the lowest signer addresses (one per signer), in increasing address order: the
    /// fewest a registry of that threshold accepts, so a finalization pays for exactly k recoveries and k signatures of calldata.
    /// All of them when there are fewer (the registry then refuses the round, naming the shortfall).
    /// </summary>
    public static IReadOnlyList<ValidatorSignature> LowestSigners(IEnumerable<ValidatorSignature> signatures, int count)
    {
        ArgumentNullException.ThrowIfNull(signatures);
        ArgumentOutOfRangeException.ThrowIfLessThan(count, 1);
        return signatures
            .DistinctBy(s => s.Signer.ToLowerInvariant())
            .OrderBy(s => new BigInteger(s.Signer.HexToByteArray(), isUnsigned: true, isBigEndian: true))
            .Take(count)
            .ToArray();
    }

    /// <summary>Signatures ordered by strictly increasing signer address, packed as the contract takes them.</summary>
    public static byte[] PackSorted(IEnumerable<ValidatorSignature> signatures) =>
        Concat(signatures
            .OrderBy(s => new BigInteger(s.Signer.HexToByteArray(), isUnsigned: true, isBigEndian: true))
            .Select(s => s.Signature.HexToByteArray())
            .ToArray());

    public static byte[] Keccak(byte[] data) => Sha3Keccack.Current.CalculateHash(data);

    private static byte[] Word(long value)
    {
        var word = new byte[32];
        var big = new BigInteger(value).ToByteArray(isUnsigned: true, isBigEndian: true);
        big.CopyTo(word, 32 - big.Length);
        return word;
    }

    private static byte[] AddressWord(string address)
    {
        var word = new byte[32];
        HexValues.NormalizeAddress(address).HexToByteArray().CopyTo(word, 12);
        return word;
    }

    private static byte[] Concat(params byte[][] parts)
    {
        var result = new byte[parts.Sum(p => p.Length)];
        var offset = 0;
        foreach (var part in parts)
        {
            part.CopyTo(result, offset);
            offset += part.Length;
        }

        return result;
    }
}

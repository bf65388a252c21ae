using System.Buffers.Binary;
using System.Numerics;
using System.Text;
using Nethereum.Hex.HexConvertors.Extensions;

namespace MetaNode.Chain;

/// <summary>
/// The calldata of the registry's <c>finalizeRound()</c>, packed with no ABI words, offsets or padding (a transaction pays 16 gas
/// a non-zero byte, 4 a zero byte): the selector, then
/// <c>jobId (32) ‖ round (8, big-endian) ‖ resultHash (32) ‖ receiptsRoot (32) ‖ modelRef (32) ‖ cidLength (1) ‖ modelCid ‖
/// c (1) ‖ c compact signatures (64 each) ‖ non-signers (20 each)</c>. Signatures are EIP-2098 compact (<c>r ‖ s</c> with the y
/// parity in the top bit of s), ordered by increasing signer address; the non-signers are the current set's other validators,
/// ascending: the contract merges them with the recovered signers and checks the result hashes to the set it keeps.
/// </summary>
public static class RegistryFinalizeCalldata
{
    /// <summary>The selector, then everything up to the CID's length byte.</summary>
    public const int HeadLength = 4 + 32 + 8 + (3 * 32);

    public const int CompactSignatureLength = 64;
    public const int AddressLength = 20;

    /// <summary>keccak256("finalizeRound()")[0..4].</summary>
    public static readonly byte[] Selector = RegistryTypedData.Keccak(Encoding.ASCII.GetBytes("finalizeRound()"))[..4];

    /// <summary>The call for <paramref name="round"/> with <paramref name="signatures"/>, sent against the current set <paramref name="validators"/>.</summary>
    public static byte[] Encode(RoundResult round, IEnumerable<ValidatorSignature> signatures, IReadOnlyList<string> validators)
    {
        ArgumentNullException.ThrowIfNull(signatures);
        var sent = signatures.ToArray();
        return Pack(round, RegistryModelCid.ToBytes(round), sent, NonSigners(validators, sent));
    }

    /// <summary>The members of <paramref name="validators"/> that are none of the signers, lower case and ascending.</summary>
    public static IReadOnlyList<string> NonSigners(IReadOnlyList<string> validators, IEnumerable<ValidatorSignature> signatures)
    {
        ArgumentNullException.ThrowIfNull(validators);
        ArgumentNullException.ThrowIfNull(signatures);
        var signers = signatures.Select(s => HexValues.NormalizeAddress(s.Signer, "signer")).ToHashSet(StringComparer.Ordinal);
        return validators.Select(v => HexValues.NormalizeAddress(v, "validator")).Where(v => !signers.Contains(v)).OrderBy(AddressValue).ToArray();
    }

    /// <summary>
    /// The calldata with <paramref name="modelCid"/> as given (at most 255 bytes, not checked here), the signatures sorted by
    /// signer address (duplicates kept) and <paramref name="nonSigners"/> in the order given.
    /// </summary>
    public static byte[] Pack(RoundResult round, ReadOnlySpan<byte> modelCid, IEnumerable<ValidatorSignature> signatures, IEnumerable<string> nonSigners)
    {
        ArgumentNullException.ThrowIfNull(round);
        ArgumentNullException.ThrowIfNull(signatures);
        ArgumentNullException.ThrowIfNull(nonSigners);
        HexValues.ValidateRound(round.Round);
        if (modelCid.Length > byte.MaxValue)
        {
            throw new InvalidChainRequestException($"a model CID of {modelCid.Length} bytes does not fit finalizeRound's length byte.");
        }

        var sorted = signatures.OrderBy(s => AddressValue(s.Signer)).Select(s => ToCompact(s.Signature)).ToArray();
        var others = nonSigners.Select(a => HexValues.NormalizeAddress(a, "validator").HexToByteArray()).ToArray();
        if (sorted.Length > byte.MaxValue)
        {
            throw new InvalidChainRequestException($"finalizeRound takes at most {byte.MaxValue} signatures, not {sorted.Length}.");
        }

        var data = new byte[HeadLength + 1 + modelCid.Length + 1 + (sorted.Length * CompactSignatureLength) + (others.Length * AddressLength)];
        var span = data.AsSpan();
        Selector.CopyTo(span);
        HexValues.JobIdToBytes32(round.JobId).CopyTo(span[4..]);
        BinaryPrimitives.WriteUInt64BigEndian(span[36..], (ulong)round.Round);
        HexValues.ParseBytes32(round.ResultHash, "result hash").CopyTo(span[44..]);
        HexValues.ParseBytes32(round.ReceiptsRoot, "receipts root").CopyTo(span[76..]);
        HexValues.ParseBytes32(round.ModelRef, "model ref").CopyTo(span[108..]);
        var offset = HeadLength;
        span[offset++] = (byte)modelCid.Length;
        modelCid.CopyTo(span[offset..]);
        offset += modelCid.Length;
        span[offset++] = (byte)sorted.Length;
        foreach (var signature in sorted)
        {
            signature.CopyTo(span[offset..]);
            offset += CompactSignatureLength;
        }

        foreach (var address in others)
        {
            address.CopyTo(span[offset..]);
            offset += AddressLength;
        }

        return data;
    }

    /// <summary>
    /// Reads a <c>finalizeRound()</c> calldata back; null when it is not one (another selector, a length that does not add up,
    /// a round past a long, a CID that is not one the registry records).
    /// </summary>
    public static RegistryFinalizeCall? Decode(ReadOnlySpan<byte> data)
    {
        if (data.Length < HeadLength + 2 || !data[..4].SequenceEqual(Selector))
        {
            return null;
        }

        var cidLength = data[HeadLength];
        var tail = HeadLength + 1 + cidLength;
        if (tail >= data.Length)
        {
            return null;
        }

        var count = data[tail];
        var othersStart = tail + 1 + (count * CompactSignatureLength);
        if (othersStart > data.Length || (data.Length - othersStart) % AddressLength != 0)
        {
            return null;
        }

        var cid = data[(HeadLength + 1)..tail].ToArray();
        if (!RegistryModelCid.TryFromBytes(cid, out var cidText))
        {
            return null;
        }

        var number = BinaryPrimitives.ReadUInt64BigEndian(data[36..44]);
        if (number > long.MaxValue)
        {
            return null;
        }

        var round = new RoundResult
        {
            JobId = HexValues.JobIdFromBytes32(data[4..36].ToArray()),
            Round = (long)number,
            ResultHash = HexValues.ToHex(data[44..76].ToArray()),
            ReceiptsRoot = HexValues.ToHex(data[76..108].ToArray()),
            ModelRef = HexValues.ToHex(data[108..140].ToArray()),
            ModelCid = cidText,
        };
        var signatures = new string[count];
        for (var i = 0; i < count; i++)
        {
            signatures[i] = FromCompact(data.Slice(tail + 1 + (i * CompactSignatureLength), CompactSignatureLength)).ToHex(prefix: true);
        }

        var nonSigners = new string[(data.Length - othersStart) / AddressLength];
        for (var i = 0; i < nonSigners.Length; i++)
        {
            nonSigners[i] = data.Slice(othersStart + (i * AddressLength), AddressLength).ToArray().ToHex(prefix: true);
        }

        return new RegistryFinalizeCall(round, cid, signatures, nonSigners);
    }

    /// <summary>EIP-2098: a 65-byte <c>r ‖ s ‖ v</c> signature (v 27/28 or 0/1, low s) as 64 bytes <c>r ‖ (s | yParity &lt;&lt; 255)</c>.</summary>
    public static byte[] ToCompact(string signature)
    {
        var bytes = signature.HexToByteArray();
        if (bytes.Length != EthereumSignatures.SignatureLength)
        {
            throw new InvalidChainRequestException($"a signature must be 65 bytes, got {bytes.Length}.");
        }

        var parity = bytes[64] >= 27 ? bytes[64] - 27 : bytes[64];
        if (parity is not (0 or 1) || (bytes[32] & 0x80) != 0)
        {
            throw new InvalidChainRequestException("a signature must have v 27 or 28 and a low s to be sent compact.");
        }

        var compact = bytes[..64];
        compact[32] |= (byte)(parity << 7);
        return compact;
    }

    /// <summary>The 65-byte <c>r ‖ s ‖ v</c> (v 27 or 28) form of a 64-byte EIP-2098 compact signature.</summary>
    public static byte[] FromCompact(ReadOnlySpan<byte> compact)
    {
        if (compact.Length != CompactSignatureLength)
        {
            throw new ArgumentException($"a compact signature is {CompactSignatureLength} bytes, not {compact.Length}.", nameof(compact));
        }

        var bytes = new byte[EthereumSignatures.SignatureLength];
        compact.CopyTo(bytes);
        bytes[64] = (byte)(27 + (bytes[32] >> 7));
        bytes[32] &= 0x7F;
        return bytes;
    }

    /// <summary>The top 184 bits of keccak256 of the set packed as the contract packs it (one 32-byte word per address), low 72 bits zero: what the registry keeps.</summary>
    public static byte[] SetHash(IEnumerable<string> validators)
    {
        ArgumentNullException.ThrowIfNull(validators);
        var words = validators.Select(v =>
        {
            var word = new byte[32];
            HexValues.NormalizeAddress(v, "validator").HexToByteArray().CopyTo(word, 12);
            return word;
        }).SelectMany(w => w).ToArray();
        var hash = RegistryTypedData.Keccak(words);
        hash.AsSpan(23).Clear();
        return hash;
    }

    private static BigInteger AddressValue(string address) => new(address.HexToByteArray(), isUnsigned: true, isBigEndian: true);
}

using MetaNode.Storage;

namespace MetaNode.Chain;

/// <summary>
/// The registry's <c>modelCid</c>: the model's CID in binary, <c>0x01 ‖ codec ‖ 0x12 0x20 ‖ digest</c> (36 bytes, codec raw or
/// dag-pb), or empty for none. A raw CID's digest must be the round's model reference (a model of one chunk is its own block);
/// the registry refuses anything else with <c>InvalidModelCid</c>, and so does this class before anything is sent.
/// </summary>
public static class RegistryModelCid
{
    /// <summary>The length of every CID the registry accepts.</summary>
    public const int Length = 36;

    /// <summary>The canonical text of <paramref name="text"/> (empty for none); refused when it is not a CIDv1 the registry accepts.</summary>
    public static string Normalize(string? text) => string.IsNullOrEmpty(text) ? string.Empty : Parse(text).ToString();

    /// <summary>What <c>finalizeRound</c> is given for <paramref name="round"/>'s CID: empty for none, else the 36 binary bytes.</summary>
    public static byte[] ToBytes(RoundResult round)
    {
        ArgumentNullException.ThrowIfNull(round);
        if (string.IsNullOrEmpty(round.ModelCid))
        {
            return [];
        }

        var cid = Parse(round.ModelCid);
        var bytes = cid.ToBytes();
        if (bytes.Length != Length)
        {
            throw new InvalidChainRequestException($"model CID '{round.ModelCid}' is {bytes.Length} bytes in binary; the registry records CIDv1 sha2-256 CIDs of {Length} bytes.");
        }

        if (cid.Codec == Multicodec.Raw && !cid.Digest.Span.SequenceEqual(HexValues.ParseBytes32(round.ModelRef, "model ref")))
        {
            throw new InvalidChainRequestException($"model CID '{round.ModelCid}' is a raw block whose digest is not the model ref {round.ModelRef}: a raw CID names the model's own bytes, whose SHA-256 is the model ref.");
        }

        return bytes;
    }

    /// <summary>The CID text of an event's <c>modelCid</c> (empty for none); false when the bytes are not exactly one CID.</summary>
    public static bool TryFromBytes(ReadOnlySpan<byte> bytes, out string text)
    {
        text = string.Empty;
        if (bytes.IsEmpty)
        {
            return true;
        }

        try
        {
            var cid = Cid.Read(bytes, out var consumed);
            if (consumed != bytes.Length)
            {
                return false;
            }

            text = cid.ToString();
            return true;
        }
        catch (Exception exception) when (exception is FormatException or InvalidDataException or ArgumentException)
        {
            return false;
        }
    }

    private static Cid Parse(string text) =>
        Cid.TryParse(text, out var cid, out var error) && cid is not null
            ? cid
            : throw new InvalidChainRequestException($"model CID '{text}' is not a CIDv1 the registry records (base32 'b…', raw or dag-pb, sha2-256): {error}");
}

using System.Buffers.Binary;

namespace MetaNode.Federation;

/// <summary>
/// The canonical bytes of a <see cref="FederatedModel"/>, which every validator hashes and signs:
/// <code>
/// offset 0   4 bytes  ASCII "MNM1" (format and version)
/// offset 4   uint32   classes, little-endian
/// offset 8   uint32   features, little-endian
/// offset 12  float64  × classes·(features+1), little-endian IEEE-754: the weights class-major, then the biases
/// </code>
/// Values are written bit for bit (so -0.0 and 0.0 differ); NaN and infinities are refused, so a model that diverged never gets a hash.
/// </summary>
public static class ModelEncoding
{
    public const int HeaderLength = 12;
    public static ReadOnlySpan<byte> Magic => "MNM1"u8;

    public static byte[] Encode(FederatedModel model)
    {
        ArgumentNullException.ThrowIfNull(model);
        var bytes = new byte[HeaderLength + model.Parameters.Length * sizeof(double)];
        Magic.CopyTo(bytes);
        BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(4), (uint)model.Classes);
        BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(8), (uint)model.Features);
        var body = bytes.AsSpan(HeaderLength);
        for (var i = 0; i < model.Parameters.Length; i++)
        {
            var value = model.Parameters[i];
            if (!double.IsFinite(value))
            {
                throw new ArgumentException($"Model parameter {i} is {value}: only finite models have a canonical encoding.", nameof(model));
            }

            BinaryPrimitives.WriteDoubleLittleEndian(body[(i * sizeof(double))..], value);
        }

        return bytes;
    }

    /// <summary>Reads canonical bytes back; throws <see cref="FormatException"/> when they are not exactly one encoded model.</summary>
    public static FederatedModel Decode(ReadOnlySpan<byte> bytes)
    {
        if (bytes.Length < HeaderLength || !bytes[..4].SequenceEqual(Magic))
        {
            throw new FormatException("Not a canonical model encoding: it must start with \"MNM1\".");
        }

        var classes = BinaryPrimitives.ReadUInt32LittleEndian(bytes[4..]);
        var features = BinaryPrimitives.ReadUInt32LittleEndian(bytes[8..]);
        if (classes is 0 or > int.MaxValue || features is 0 or > int.MaxValue
            || (long)classes * (features + 1) * sizeof(double) != bytes.Length - HeaderLength)
        {
            throw new FormatException($"A model of {classes} classes × {features} features does not fit {bytes.Length} bytes.");
        }

        var parameters = new double[classes * (features + 1)];
        for (var i = 0; i < parameters.Length; i++)
        {
            parameters[i] = BinaryPrimitives.ReadDoubleLittleEndian(bytes[(HeaderLength + i * sizeof(double))..]);
            if (!double.IsFinite(parameters[i]))
            {
                throw new FormatException($"Model parameter {i} is {parameters[i]}: a canonical encoding holds only finite values.");
            }
        }

        return new FederatedModel((int)classes, (int)features, parameters);
    }

    /// <summary>Keccak-256 of the canonical encoding.</summary>
    public static byte[] Hash(FederatedModel model) => FederationHashing.Keccak256(Encode(model));

    /// <summary>Keccak-256 of the canonical encoding, <c>0x</c> + 64 hex digits.</summary>
    public static string HashHex(FederatedModel model) => FederationHashing.ToHex(Hash(model));
}

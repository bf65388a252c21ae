namespace MetaNode.Storage;

/// <summary>
/// A strict, bounded protobuf reader over one message: every length stays inside the message, varints must end and fit 64 bits,
/// and only the wire types proto2 still uses (varint, 64-bit, length-delimited, 32-bit) are accepted — groups and the
/// undefined types 6 and 7 are refused. Errors are <see cref="FormatException"/>s naming <c>what</c> is being read.
/// </summary>
internal ref struct ProtoReader
{
    public const int VarintType = 0;
    public const int Fixed64Type = 1;
    public const int LengthDelimitedType = 2;
    public const int Fixed32Type = 5;

    private readonly ReadOnlySpan<byte> _buffer;
    private readonly string _what;
    private int _position;

    public ProtoReader(ReadOnlySpan<byte> buffer, string what)
    {
        _buffer = buffer;
        _what = what;
        _position = 0;
    }

    public readonly bool AtEnd => _position >= _buffer.Length;

    /// <summary>The offset of the next byte to read.</summary>
    public readonly int Position => _position;

    /// <summary>Reads a field key; returns the field number and wire type.</summary>
    public (int Field, int WireType) ReadTag()
    {
        var key = ReadVarint("a field key");
        var wireType = (int)(key & 7);
        var field = key >> 3;
        if (field is 0 or > 0x1fff_ffff)
        {
            throw Error($"field number {field} is not a valid protobuf field number");
        }

        if (wireType is not (VarintType or Fixed64Type or LengthDelimitedType or Fixed32Type))
        {
            throw Error($"field {field} has wire type {wireType}, which is {(wireType is 3 or 4 ? "a (deprecated) group" : "not a protobuf wire type")}");
        }

        return ((int)field, wireType);
    }

    public ulong ReadVarint(string field)
    {
        var value = Varint.TryRead(_buffer[_position..], minimal: false, out var consumed, out var error);
        if (value is null)
        {
            throw Error($"{field}: {error}");
        }

        _position += consumed;
        return value.Value;
    }

    public ReadOnlySpan<byte> ReadBytes(string field)
    {
        var length = ReadVarint(field + " length");
        var remaining = _buffer.Length - _position;
        if (length > (ulong)remaining)
        {
            throw Error($"{field} claims {length} bytes but only {remaining} remain");
        }

        var bytes = _buffer.Slice(_position, (int)length);
        _position += (int)length;
        return bytes;
    }

    /// <summary>Skips the value of a field this reader does not interpret.</summary>
    public void Skip(int field, int wireType)
    {
        var name = $"field {field}";
        switch (wireType)
        {
            case VarintType:
                ReadVarint(name);
                break;
            case LengthDelimitedType:
                ReadBytes(name);
                break;
            case Fixed64Type:
            case Fixed32Type:
                var size = wireType == Fixed64Type ? 8 : 4;
                if (_buffer.Length - _position < size)
                {
                    throw Error($"{name} is truncated ({size} bytes expected, {_buffer.Length - _position} remain)");
                }

                _position += size;
                break;
            default:
                throw Error($"{name} has wire type {wireType}");
        }
    }

    /// <summary>Throws unless <paramref name="wireType"/> is what <paramref name="field"/> must have.</summary>
    public readonly void Expect(string field, int wireType, int expected)
    {
        if (wireType != expected)
        {
            throw Error($"{field} has wire type {wireType}, expected {expected}");
        }
    }

    public readonly FormatException Error(string message) => new($"Malformed {_what} at byte {_position}: {message}.");
}

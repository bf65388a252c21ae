using System.Text;

namespace MetaNode.Storage;

/// <summary>CARv1 archives (header: dag-cbor <c>{roots, version: 1}</c>; then varint-prefixed sections of CID ‖ block).</summary>
/// <remarks>
/// The header is written as <c>@ipld/car</c> writes it: <c>varint(length) ‖ {"roots": [tag 42 (0x00 ‖ CID)…], "version": 1}</c>,
/// keys in dag-cbor order (shorter first). <see cref="Read"/> accepts exactly that shape — canonical, minimally encoded
/// dag-cbor, no other keys — and every section's block must hash to its CID.
/// </remarks>
public static class Car
{
    public const string MediaType = "application/vnd.ipld.car";

    private static readonly byte[] RootsKey = Encoding.ASCII.GetBytes("roots");
    private static readonly byte[] VersionKey = Encoding.ASCII.GetBytes("version");
    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    /// <summary>Writes the CARv1 header naming <paramref name="roots"/>.</summary>
    public static async Task WriteHeaderAsync(Stream output, IReadOnlyList<Cid> roots, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(roots);
        await output.WriteAsync(EncodeHeader(roots), cancellationToken);
    }

    /// <summary>Writes one section: <c>varint(|CID| + |block|) ‖ CID ‖ block</c>; refuses a block that does not hash to its CID.</summary>
    public static async Task WriteBlockAsync(Stream output, Block block, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(block);
        if (!block.Cid.Verifies(block.Data))
        {
            throw new ArgumentException($"block {block.Cid} does not hash to its CID.", nameof(block));
        }

        var prefix = new byte[Varint.MaxLength + Cid.BinaryLength];
        var length = Varint.Write(prefix, (ulong)(Cid.BinaryLength + block.Data.Length));
        block.Cid.WriteTo(prefix.AsSpan(length));
        await output.WriteAsync(prefix.AsMemory(0, length + Cid.BinaryLength), cancellationToken);
        await output.WriteAsync(block.Data, cancellationToken);
    }

    /// <summary>Reads a whole CAR; throws <see cref="FormatException"/> when it is malformed or a block does not hash to its CID.</summary>
    public static (IReadOnlyList<Cid> Roots, IReadOnlyList<Block> Blocks) Read(ReadOnlySpan<byte> car)
    {
        var headerLength = Varint.TryRead(car, minimal: true, out var position, out var error)
            ?? throw new FormatException($"Malformed CAR: the header length is unreadable: {error}.");
        if (headerLength == 0 || headerLength > (ulong)(car.Length - position))
        {
            throw new FormatException($"Malformed CAR: the header claims {headerLength} bytes, {car.Length - position} remain.");
        }

        var roots = DecodeHeader(car.Slice(position, (int)headerLength));
        position += (int)headerLength;

        var blocks = new List<Block>();
        while (position < car.Length)
        {
            var sectionLength = Varint.TryRead(car[position..], minimal: true, out var read, out error)
                ?? throw new FormatException($"Malformed CAR: section {blocks.Count} at byte {position}: its length is unreadable: {error}.");
            position += read;
            if (sectionLength > (ulong)(car.Length - position))
            {
                throw new FormatException($"Malformed CAR: section {blocks.Count} claims {sectionLength} bytes, {car.Length - position} remain.");
            }

            var section = car.Slice(position, (int)sectionLength);
            Cid cid;
            int cidLength;
            try
            {
                cid = Cid.Read(section, out cidLength);
            }
            catch (FormatException exception)
            {
                throw new FormatException($"Malformed CAR: section {blocks.Count} at byte {position} does not start with a supported CID: {exception.Message}", exception);
            }

            var data = section[cidLength..];
            if (!cid.Verifies(data))
            {
                throw new FormatException($"CAR block {cid} (section {blocks.Count}) does not hash to its CID.");
            }

            blocks.Add(new Block(cid, data.ToArray()));
            position += (int)sectionLength;
        }

        return (roots, blocks);
    }

    private static byte[] EncodeHeader(IReadOnlyList<Cid> roots)
    {
        var cbor = new List<byte>(32 + roots.Count * (Cid.BinaryLength + 5));
        WriteHead(cbor, 5, 2);
        WriteHead(cbor, 3, (ulong)RootsKey.Length);
        cbor.AddRange(RootsKey);
        WriteHead(cbor, 4, (ulong)roots.Count);
        foreach (var root in roots)
        {
            ArgumentNullException.ThrowIfNull(root, nameof(roots));
            WriteHead(cbor, 6, 42);
            WriteHead(cbor, 2, 1 + Cid.BinaryLength);
            cbor.Add(0x00);
            cbor.AddRange(root.ToBytes());
        }

        WriteHead(cbor, 3, (ulong)VersionKey.Length);
        cbor.AddRange(VersionKey);
        WriteHead(cbor, 0, 1);

        var header = new List<byte>(cbor.Count + Varint.MaxLength);
        Varint.Write(header, (ulong)cbor.Count);
        header.AddRange(cbor);
        return [.. header];
    }

    /// <summary>A CBOR head with the shortest argument encoding, as dag-cbor requires.</summary>
    private static void WriteHead(List<byte> cbor, int major, ulong argument)
    {
        var type = (byte)(major << 5);
        if (argument < 24)
        {
            cbor.Add((byte)(type | (byte)argument));
        }
        else if (argument <= byte.MaxValue)
        {
            cbor.Add((byte)(type | 24));
            cbor.Add((byte)argument);
        }
        else if (argument <= ushort.MaxValue)
        {
            cbor.Add((byte)(type | 25));
            cbor.Add((byte)(argument >> 8));
            cbor.Add((byte)argument);
        }
        else if (argument <= uint.MaxValue)
        {
            cbor.Add((byte)(type | 26));
            for (var shift = 24; shift >= 0; shift -= 8)
            {
                cbor.Add((byte)(argument >> shift));
            }
        }
        else
        {
            cbor.Add((byte)(type | 27));
            for (var shift = 56; shift >= 0; shift -= 8)
            {
                cbor.Add((byte)(argument >> shift));
            }
        }
    }

    private static List<Cid> DecodeHeader(ReadOnlySpan<byte> header)
    {
        var reader = new CborReader(header);
        var (major, entries) = reader.ReadHead();
        if (major != 5)
        {
            throw reader.Error($"the header is a CBOR {CborReader.MajorName(major)}, not a map");
        }

        if (entries == 1 && reader.ReadText() == "version")
        {
            var (versionMajor, version) = reader.ReadHead();
            throw reader.Error(versionMajor == 0 && version == 2
                ? "this is a CARv2 (its pragma says version 2); only CARv1 is supported"
                : "the header has no \"roots\"");
        }

        if (entries != 2)
        {
            throw reader.Error($"the header map has {entries} entries; a CARv1 header has exactly \"roots\" and \"version\"");
        }

        var firstKey = reader.ReadText();
        if (firstKey != "roots")
        {
            throw reader.Error(firstKey == "version"
                ? "\"version\" comes before \"roots\"; dag-cbor orders keys shorter first"
                : $"the header's first key is \"{firstKey}\", expected \"roots\"");
        }

        var (rootsMajor, count) = reader.ReadHead();
        if (rootsMajor != 4)
        {
            throw reader.Error($"\"roots\" is a CBOR {CborReader.MajorName(rootsMajor)}, not an array");
        }

        if (count > (ulong)header.Length)
        {
            throw reader.Error($"\"roots\" claims {count} entries in a {header.Length}-byte header");
        }

        var roots = new List<Cid>((int)count);
        for (ulong r = 0; r < count; r++)
        {
            roots.Add(reader.ReadLink(r));
        }

        var secondKey = reader.ReadText();
        if (secondKey != "version")
        {
            throw reader.Error($"the header's second key is \"{secondKey}\", expected \"version\"");
        }

        var (major2, value) = reader.ReadHead();
        if (major2 != 0 || value != 1)
        {
            throw reader.Error(major2 == 0 ? $"CAR version {value} is not supported; only CARv1" : "\"version\" is not an unsigned integer");
        }

        return reader.AtEnd ? roots : throw reader.Error("bytes follow the header map");
    }

    /// <summary>Just enough strict dag-cbor for a CAR header: definite lengths, shortest heads, text keys and tag-42 links.</summary>
    private ref struct CborReader(ReadOnlySpan<byte> buffer)
    {
        private readonly ReadOnlySpan<byte> _buffer = buffer;
        private int _position;

        public readonly bool AtEnd => _position >= _buffer.Length;

        public static string MajorName(int major) => major switch
        {
            0 => "unsigned integer",
            1 => "negative integer",
            2 => "byte string",
            3 => "text string",
            4 => "array",
            5 => "map",
            6 => "tag",
            _ => "simple value or float",
        };

        public (int Major, ulong Argument) ReadHead()
        {
            if (AtEnd)
            {
                throw Error("the header ends early");
            }

            var initial = _buffer[_position++];
            var major = initial >> 5;
            var info = initial & 0x1f;
            if (info < 24)
            {
                return (major, (ulong)info);
            }

            var size = info switch
            {
                24 => 1,
                25 => 2,
                26 => 4,
                27 => 8,
                _ => throw Error(info == 31 ? "indefinite-length items are not dag-cbor" : $"additional information {info} is reserved"),
            };
            if (_buffer.Length - _position < size)
            {
                throw Error("the header ends inside a CBOR head");
            }

            ulong argument = 0;
            for (var i = 0; i < size; i++)
            {
                argument = (argument << 8) | _buffer[_position++];
            }

            var minimal = size switch
            {
                1 => argument >= 24,
                2 => argument > byte.MaxValue,
                4 => argument > ushort.MaxValue,
                _ => argument > uint.MaxValue,
            };
            return minimal ? (major, argument) : throw Error($"{argument} is not in its shortest CBOR encoding");
        }

        public string ReadText()
        {
            var (major, length) = ReadHead();
            if (major != 3)
            {
                throw Error($"a map key is a CBOR {MajorName(major)}, not a text string");
            }

            var bytes = ReadPayload(length);
            try
            {
                return StrictUtf8.GetString(bytes);
            }
            catch (DecoderFallbackException)
            {
                throw Error("a map key is not valid UTF-8");
            }
        }

        public Cid ReadLink(ulong index)
        {
            var (major, tag) = ReadHead();
            if (major != 6 || tag != 42)
            {
                throw Error($"root {index} is not a CID (CBOR tag 42)");
            }

            var (bytesMajor, length) = ReadHead();
            if (bytesMajor != 2)
            {
                throw Error($"root {index} is tag 42 over a CBOR {MajorName(bytesMajor)}, not a byte string");
            }

            var bytes = ReadPayload(length);
            if (bytes.IsEmpty || bytes[0] != 0x00)
            {
                throw Error($"root {index} lacks the 0x00 multibase prefix a dag-cbor link carries");
            }

            Cid cid;
            int consumed;
            try
            {
                cid = Cid.Read(bytes[1..], out consumed);
            }
            catch (FormatException exception)
            {
                throw Error($"root {index} is not a supported CID: {exception.Message.TrimEnd('.')}");
            }

            return consumed == bytes.Length - 1 ? cid : throw Error($"root {index} has {bytes.Length - 1 - consumed} bytes after its CID");
        }

        public readonly FormatException Error(string message) => new($"Malformed CAR header at byte {_position}: {message}.");

        private ReadOnlySpan<byte> ReadPayload(ulong length)
        {
            if (length > (ulong)(_buffer.Length - _position))
            {
                throw Error($"a string claims {length} bytes, {_buffer.Length - _position} remain");
            }

            var bytes = _buffer.Slice(_position, (int)length);
            _position += (int)length;
            return bytes;
        }
    }
}

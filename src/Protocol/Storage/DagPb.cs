using System.Text;

namespace MetaNode.Storage;

/// <summary>A dag-pb link.</summary>
public sealed record DagLink(Cid Cid, string? Name, ulong? TotalSize);

/// <summary>A UnixFS <c>Data</c> message of a dag-pb node (only what file nodes use).</summary>
public sealed record UnixFsData(int Type, ReadOnlyMemory<byte> Data, ulong? FileSize, IReadOnlyList<ulong> BlockSizes)
{
    public const int FileType = 2;

    /// <summary>The largest UnixFS type number (<c>HAMTShard</c>); raw 0, directory 1, file 2, metadata 3, symlink 4.</summary>
    internal const int MaxType = 5;
}

/// <summary>
/// Reads dag-pb nodes (the PBNode protobuf: links, then data), strictly as the dag-pb spec decodes them: only the fields
/// <c>Data = 1</c> and <c>Links = 2</c> (and in a link <c>Hash = 1</c>, <c>Name = 2</c>, <c>Tsize = 3</c>, in that order, each at
/// most once) with their wire types, no links after the data, every length inside the block; a link's hash must be a CID this
/// library supports. Malformed input throws <see cref="FormatException"/> saying what and where.
/// </summary>
public static class DagPb
{
    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    /// <summary>The node's links in order; throws <see cref="FormatException"/> on a malformed node.</summary>
    public static IReadOnlyList<DagLink> ReadLinks(ReadOnlySpan<byte> node)
    {
        var links = new List<DagLink>();
        ReadNode(node, links, out _, out _);
        return links;
    }

    /// <summary>The node's UnixFS data; throws <see cref="FormatException"/> on a malformed node or one without data.</summary>
    public static UnixFsData ReadUnixFs(ReadOnlySpan<byte> node)
    {
        ReadNode(node, links: null, out var dataStart, out var dataLength);
        if (dataStart < 0)
        {
            throw new FormatException("Malformed dag-pb node: it has no Data field, so it is not a UnixFS node.");
        }

        return ReadUnixFsData(node.Slice(dataStart, dataLength));
    }

    /// <summary>The CIDs a block links to: none for a raw block, the links of a dag-pb node.</summary>
    public static IReadOnlyList<Cid> Children(Block block)
    {
        ArgumentNullException.ThrowIfNull(block);
        return block.Cid.Codec switch
        {
            Multicodec.Raw => [],
            Multicodec.DagPb => [.. ReadLinks(block.Data).Select(link => link.Cid)],
            _ => throw new FormatException($"codec {block.Cid.Codec} is not supported."),
        };
    }

    /// <summary>
    /// Encodes a UnixFS file node as the JS importer does: the links first (Hash, Name, Tsize each present), then
    /// <c>Data = {Type: file, filesize: Σ blocksizes, blocksizes…}</c> (no inline data, the default mode left out).
    /// </summary>
    internal static byte[] EncodeFileNode(IReadOnlyList<DagLink> links, IReadOnlyList<ulong> blockSizes)
    {
        ulong fileSize = 0;
        var unixFsLength = 2;
        foreach (var size in blockSizes)
        {
            fileSize = checked(fileSize + size);
            unixFsLength += 1 + Varint.Length(size);
        }

        unixFsLength += 1 + Varint.Length(fileSize);

        var names = new byte[links.Count][];
        var linkLengths = new int[links.Count];
        var total = 1 + Varint.Length((ulong)unixFsLength) + unixFsLength;
        for (var i = 0; i < links.Count; i++)
        {
            var link = links[i];
            var length = 1 + Varint.Length(Cid.BinaryLength) + Cid.BinaryLength;
            if (link.Name is not null)
            {
                names[i] = StrictUtf8.GetBytes(link.Name);
                length += 1 + Varint.Length((ulong)names[i].Length) + names[i].Length;
            }

            if (link.TotalSize is { } totalSize)
            {
                length += 1 + Varint.Length(totalSize);
            }

            linkLengths[i] = length;
            total += 1 + Varint.Length((ulong)length) + length;
        }

        var node = new byte[total];
        var p = 0;
        for (var i = 0; i < links.Count; i++)
        {
            var link = links[i];
            node[p++] = 0x12;
            p += Varint.Write(node.AsSpan(p), (ulong)linkLengths[i]);
            node[p++] = 0x0a;
            p += Varint.Write(node.AsSpan(p), Cid.BinaryLength);
            link.Cid.WriteTo(node.AsSpan(p));
            p += Cid.BinaryLength;
            if (link.Name is not null)
            {
                node[p++] = 0x12;
                p += Varint.Write(node.AsSpan(p), (ulong)names[i].Length);
                names[i].CopyTo(node, p);
                p += names[i].Length;
            }

            if (link.TotalSize is { } totalSize)
            {
                node[p++] = 0x18;
                p += Varint.Write(node.AsSpan(p), totalSize);
            }
        }

        node[p++] = 0x0a;
        p += Varint.Write(node.AsSpan(p), (ulong)unixFsLength);
        node[p++] = 0x08;
        node[p++] = UnixFsData.FileType;
        node[p++] = 0x18;
        p += Varint.Write(node.AsSpan(p), fileSize);
        foreach (var size in blockSizes)
        {
            node[p++] = 0x20;
            p += Varint.Write(node.AsSpan(p), size);
        }

        return p == node.Length ? node : throw new InvalidOperationException("dag-pb node size miscalculated.");
    }

    private static void ReadNode(ReadOnlySpan<byte> node, List<DagLink>? links, out int dataStart, out int dataLength)
    {
        var reader = new ProtoReader(node, "dag-pb node");
        dataStart = -1;
        dataLength = 0;
        var sawLinks = false;
        var linksBeforeData = false;
        while (!reader.AtEnd)
        {
            var (field, wireType) = reader.ReadTag();
            switch (field)
            {
                case 1:
                    reader.Expect("Data", wireType, ProtoReader.LengthDelimitedType);
                    if (dataStart >= 0)
                    {
                        throw reader.Error("Data appears twice");
                    }

                    dataLength = reader.ReadBytes("Data").Length;
                    dataStart = reader.Position - dataLength;
                    linksBeforeData = sawLinks;
                    break;
                case 2:
                    reader.Expect("Links", wireType, ProtoReader.LengthDelimitedType);
                    if (linksBeforeData)
                    {
                        throw reader.Error("a link follows the Data after earlier links (interleaved Links and Data)");
                    }

                    sawLinks = true;
                    var link = reader.ReadBytes("a link");
                    if (links is not null)
                    {
                        links.Add(ReadLink(link, links.Count));
                    }
                    else
                    {
                        ReadLink(link, 0);
                    }

                    break;
                default:
                    throw reader.Error($"field {field} is not a PBNode field (only Data = 1 and Links = 2)");
            }
        }
    }

    private static DagLink ReadLink(ReadOnlySpan<byte> bytes, int index)
    {
        var reader = new ProtoReader(bytes, $"dag-pb link {index}");
        Cid? cid = null;
        string? name = null;
        ulong? totalSize = null;
        while (!reader.AtEnd)
        {
            var (field, wireType) = reader.ReadTag();
            switch (field)
            {
                case 1:
                    reader.Expect("Hash", wireType, ProtoReader.LengthDelimitedType);
                    if (cid is not null || name is not null || totalSize is not null)
                    {
                        throw reader.Error(cid is not null ? "Hash appears twice" : "Hash must come before Name and Tsize");
                    }

                    var hash = reader.ReadBytes("Hash");
                    int consumed;
                    try
                    {
                        cid = Cid.Read(hash, out consumed);
                    }
                    catch (FormatException exception)
                    {
                        throw reader.Error($"Hash is not a supported CID: {exception.Message.TrimEnd('.')}");
                    }

                    if (consumed != hash.Length)
                    {
                        throw reader.Error($"Hash has {hash.Length - consumed} bytes after the CID");
                    }

                    break;
                case 2:
                    reader.Expect("Name", wireType, ProtoReader.LengthDelimitedType);
                    if (name is not null || totalSize is not null)
                    {
                        throw reader.Error(name is not null ? "Name appears twice" : "Name must come before Tsize");
                    }

                    var nameBytes = reader.ReadBytes("Name");
                    try
                    {
                        name = StrictUtf8.GetString(nameBytes);
                    }
                    catch (DecoderFallbackException)
                    {
                        throw reader.Error("Name is not valid UTF-8");
                    }

                    break;
                case 3:
                    reader.Expect("Tsize", wireType, ProtoReader.VarintType);
                    if (totalSize is not null)
                    {
                        throw reader.Error("Tsize appears twice");
                    }

                    totalSize = reader.ReadVarint("Tsize");
                    break;
                default:
                    throw reader.Error($"field {field} is not a PBLink field (only Hash = 1, Name = 2 and Tsize = 3)");
            }
        }

        return cid is null ? throw reader.Error("the link has no Hash") : new DagLink(cid, name, totalSize);
    }

    private static UnixFsData ReadUnixFsData(ReadOnlySpan<byte> bytes)
    {
        var reader = new ProtoReader(bytes, "UnixFS Data");
        int? type = null;
        byte[]? data = null;
        ulong? fileSize = null;
        var blockSizes = new List<ulong>();
        while (!reader.AtEnd)
        {
            var (field, wireType) = reader.ReadTag();
            switch (field)
            {
                case 1:
                    reader.Expect("Type", wireType, ProtoReader.VarintType);
                    if (type is not null)
                    {
                        throw reader.Error("Type appears twice");
                    }

                    var value = reader.ReadVarint("Type");
                    type = value <= UnixFsData.MaxType ? (int)value : throw reader.Error($"Type {value} is not a UnixFS type (0 to {UnixFsData.MaxType})");
                    break;
                case 2:
                    reader.Expect("Data", wireType, ProtoReader.LengthDelimitedType);
                    data = data is null ? reader.ReadBytes("Data").ToArray() : throw reader.Error("Data appears twice");
                    break;
                case 3:
                    reader.Expect("filesize", wireType, ProtoReader.VarintType);
                    fileSize = fileSize is null ? reader.ReadVarint("filesize") : throw reader.Error("filesize appears twice");
                    break;
                case 4:
                    reader.Expect("blocksizes", wireType, ProtoReader.VarintType);
                    blockSizes.Add(reader.ReadVarint("blocksizes"));
                    break;
                case 5 or 6 or 7:
                    reader.Expect(field switch { 5 => "hashType", 6 => "fanout", _ => "mode" }, wireType, ProtoReader.VarintType);
                    reader.ReadVarint(field switch { 5 => "hashType", 6 => "fanout", _ => "mode" });
                    break;
                case 8:
                    reader.Expect("mtime", wireType, ProtoReader.LengthDelimitedType);
                    reader.ReadBytes("mtime");
                    break;
                default:
                    reader.Skip(field, wireType);
                    break;
            }
        }

        return type is null
            ? throw reader.Error("the required Type field is missing")
            : new UnixFsData(type.Value, data ?? ReadOnlyMemory<byte>.Empty, fileSize, blockSizes);
    }
}

using MetaNode.Storage;
using MetaNode.Workload.Federation;
using MetaNode.Workloads;

namespace MetaNode.Workload.Storage;

/// <summary>
/// A storage vPod's blocks, on its own volume: <c>{keyDir}/blocks/{xy}/{cid}</c>, where <c>xy</c> are the CID's next-to-last two
/// characters (so no directory grows past a few thousand entries). A block is stored only when it hashes to its CID, written to
/// a temporary file, flushed and renamed, then its directory flushed: a block that is listed is whole and on disk.
/// </summary>
public sealed class BlockStore(string keyDirectory)
{
    private readonly string _root = Path.Combine(keyDirectory, "blocks");

    /// <summary>Stores <paramref name="data"/> under <paramref name="cid"/>; false when it was already there.</summary>
    public bool Put(Cid cid, ReadOnlySpan<byte> data)
    {
        ArgumentNullException.ThrowIfNull(cid);
        if (!cid.Verifies(data))
        {
            throw new InvalidWorkloadRequestException($"the body does not hash to {cid}: nothing was stored.");
        }

        var path = PathOf(cid);
        if (File.Exists(path))
        {
            return false;
        }

        var directory = Path.GetDirectoryName(path)!;
        var newDirectory = !Directory.Exists(directory);
        Directory.CreateDirectory(directory);
        var temporary = path + ".tmp-" + Guid.NewGuid().ToString("N");
        try
        {
            using (var file = new FileStream(temporary, FileMode.CreateNew, FileAccess.Write, FileShare.None))
            {
                file.Write(data);
                file.Flush(flushToDisk: true);
            }

            File.Move(temporary, path, overwrite: true);
        }
        finally
        {
            File.Delete(temporary);
        }

        if (OperatingSystem.IsLinux())
        {
            DirectorySync.Flush(directory);
            if (newDirectory)
            {
                // The new shard directory's own entry, and the blocks directory's if that was new too.
                DirectorySync.Flush(_root);
                DirectorySync.Flush(Path.GetDirectoryName(_root)!);
            }
        }

        return true;
    }

    /// <summary>The block's bytes, or null when it is not here.</summary>
    public byte[]? Get(Cid cid)
    {
        ArgumentNullException.ThrowIfNull(cid);
        try
        {
            return File.ReadAllBytes(PathOf(cid));
        }
        catch (Exception ex) when (ex is FileNotFoundException or DirectoryNotFoundException)
        {
            return null;
        }
    }

    /// <summary>Deletes the block; false when it was not here.</summary>
    public bool Delete(Cid cid)
    {
        ArgumentNullException.ThrowIfNull(cid);
        var path = PathOf(cid);
        if (!File.Exists(path))
        {
            return false;
        }

        File.Delete(path);
        return true;
    }

    public IReadOnlyList<StoredBlockDto> List()
    {
        if (!Directory.Exists(_root))
        {
            return [];
        }

        var blocks = new List<StoredBlockDto>();
        foreach (var file in Directory.EnumerateFiles(_root, "*", SearchOption.AllDirectories))
        {
            var name = Path.GetFileName(file);
            if (Cid.TryParse(name, out var cid, out _))
            {
                blocks.Add(new StoredBlockDto(cid!.ToString(), new FileInfo(file).Length));
            }
        }

        blocks.Sort((a, b) => string.CompareOrdinal(a.Cid, b.Cid));
        return blocks;
    }

    private string PathOf(Cid cid)
    {
        var text = cid.ToString();
        return Path.Combine(_root, text[^3..^1], text);
    }
}

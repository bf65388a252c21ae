using MetaNode.Clusters;
using MetaNode.Storage;
using MetaNode.VPods;

namespace MetaNode.Silo.Hosting;

/// <summary>
/// <c>GET|HEAD /ipfs/{cid}</c> per the IPFS trustless gateway specification: a block as <c>application/vnd.ipld.raw</c>, or the
/// whole DAG as a CARv1 (<c>application/vnd.ipld.car; version=1; order=dfs; dups=n</c>), chosen by <c>?format=raw|car</c> or
/// the Accept header; without either, a raw CID answers its block and a dag-pb CID its CAR. A client checks every block
/// against its CID, so nothing here needs trusting. Only what a pin references is served (users' files, jobs' models and
/// round records, db.lock records): a block merely uploaded, or anything else in the silo, is 404.
/// </summary>
public static class IpfsGateway
{
    public const string CarMediaType = "application/vnd.ipld.car; version=1; order=dfs; dups=n";
    private const string ImmutableCache = "public, max-age=29030400, immutable";

    public static void MapIpfsGateway(this WebApplication app)
    {
        ArgumentNullException.ThrowIfNull(app);
        app.MapMethods("/ipfs/{**path}", [HttpMethods.Get, HttpMethods.Head], ServeAsync);
    }

    /// <summary>The answer's form: raw block or CAR; null when the client accepts neither (406).</summary>
    public static string? ChooseFormat(string? formatQuery, string? accept, Multicodec codec)
    {
        if (!string.IsNullOrEmpty(formatQuery))
        {
            return formatQuery switch
            {
                "raw" => "raw",
                "car" => "car",
                _ => null,
            };
        }

        var defaultFormat = codec == Multicodec.Raw ? "raw" : "car";
        if (string.IsNullOrWhiteSpace(accept))
        {
            return defaultFormat;
        }

        string? wildcard = null;
        foreach (var part in accept.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
        {
            var type = part.Split(';', 2)[0].Trim();
            if (type.Equals("application/vnd.ipld.raw", StringComparison.OrdinalIgnoreCase))
            {
                return "raw";
            }

            if (type.Equals("application/vnd.ipld.car", StringComparison.OrdinalIgnoreCase))
            {
                return "car";
            }

            if (type is "*/*" or "application/*")
            {
                wildcard = defaultFormat;
            }
        }

        return wildcard;
    }

    private static async Task ServeAsync(HttpContext http, string path, IGrainFactory grains)
    {
        var parts = path.Split('/', 2);
        if (parts.Length > 1 && parts[1].Length > 0)
        {
            await TextAsync(http, StatusCodes.Status400BadRequest, "paths inside a CID are not served here: ask for the CID itself.");
            return;
        }

        if (!Cid.TryParse(parts[0], out var cid, out var error))
        {
            await TextAsync(http, StatusCodes.Status400BadRequest, error);
            return;
        }

        var format = ChooseFormat(http.Request.Query["format"].ToString(), http.Request.Headers.Accept.ToString(), cid!.Codec);
        if (format is null)
        {
            await TextAsync(http, StatusCodes.Status406NotAcceptable, "this gateway answers application/vnd.ipld.raw (?format=raw) or application/vnd.ipld.car (?format=car).");
            return;
        }

        var scope = http.Request.Query["dag-scope"].ToString();
        if (scope.Length > 0 && scope is not ("all" or "entity" or "block"))
        {
            await TextAsync(http, StatusCodes.Status400BadRequest, $"dag-scope '{scope}' is not one of all, entity, block.");
            return;
        }

        var (storage, root) = await FindAsync(grains, cid, http.RequestAborted);
        if (storage is null)
        {
            await TextAsync(http, StatusCodes.Status404NotFound, $"{cid} is not served by this gateway.");
            return;
        }

        var etag = $"\"{cid}.{format}\"";
        http.Response.Headers.ETag = etag;
        http.Response.Headers.CacheControl = ImmutableCache;
        http.Response.Headers.XContentTypeOptions = "nosniff";
        http.Response.Headers["X-Ipfs-Path"] = "/ipfs/" + cid;
        http.Response.Headers["X-Ipfs-Roots"] = cid.ToString();
        http.Response.Headers.Vary = "Accept";
        if (http.Request.Headers.IfNoneMatch.Contains(etag))
        {
            http.Response.StatusCode = StatusCodes.Status304NotModified;
            return;
        }

        if (format == "raw")
        {
            http.Response.ContentType = "application/vnd.ipld.raw";
            http.Response.ContentLength = root!.Length;
            http.Response.Headers.ContentDisposition = $"attachment; filename=\"{cid}.bin\"";
            if (!HttpMethods.IsHead(http.Request.Method))
            {
                await http.Response.Body.WriteAsync(root, http.RequestAborted);
            }

            return;
        }

        http.Response.ContentType = CarMediaType;
        http.Response.Headers.ContentDisposition = $"attachment; filename=\"{cid}.car\"";
        if (HttpMethods.IsHead(http.Request.Method))
        {
            return;
        }

        try
        {
            await WriteCarAsync(http.Response.Body, storage, cid, root!, scope == "block", http.RequestAborted);
        }
        catch (Exception ex) when (ex is StorageUnavailableException or InvalidDataException or FormatException)
        {
            // The status line is gone: a truncated CAR is what tells the client the DAG is incomplete.
            http.Abort();
        }
    }

    /// <summary>The DAG in depth-first order from the root, each block once.</summary>
    private static async Task WriteCarAsync(Stream output, IStorageGrain storage, Cid root, byte[] rootBytes, bool rootOnly, CancellationToken cancellationToken)
    {
        await Car.WriteHeaderAsync(output, [root], cancellationToken);
        var seen = new HashSet<Cid>();
        var pending = new Stack<(Cid Cid, byte[]? Bytes)>();
        pending.Push((root, rootBytes));
        while (pending.TryPop(out var next))
        {
            if (!seen.Add(next.Cid))
            {
                continue;
            }

            var bytes = next.Bytes ?? await storage.GetPublicBlockAsync(next.Cid.ToString(), cancellationToken)
                ?? throw new StorageUnavailableException($"block {next.Cid} is missing.");
            var block = new Block(next.Cid, bytes);
            await Car.WriteBlockAsync(output, block, cancellationToken);
            if (rootOnly)
            {
                break;
            }

            var children = DagPb.Children(block);
            for (var i = children.Count - 1; i >= 0; i--)
            {
                pending.Push((children[i], null));
            }
        }
    }

    private static async Task<(IStorageGrain? Storage, byte[]? Root)> FindAsync(IGrainFactory grains, Cid cid, CancellationToken cancellationToken)
    {
        var clusters = await grains.GetGrain<IVPodClusterRegistryGrain>(ClusterRegistryKeys.Default).ListAsync(cancellationToken);
        foreach (var cluster in clusters.Where(c => c.MemberType == VPodType.Storage).OrderBy(c => c.Name, StringComparer.Ordinal))
        {
            var storage = grains.GetGrain<IStorageGrain>(cluster.Name);
            try
            {
                if (await storage.GetPublicBlockAsync(cid.ToString(), cancellationToken) is { } bytes)
                {
                    return (storage, bytes);
                }
            }
            catch (Exception ex) when (ex is StorageUnavailableException or ContentNotFoundException or InvalidStorageRequestException)
            {
                // This cluster cannot answer now; another may.
            }
        }

        return (null, null);
    }

    private static Task TextAsync(HttpContext http, int status, string message)
    {
        http.Response.StatusCode = status;
        http.Response.ContentType = "text/plain; charset=utf-8";
        return HttpMethods.IsHead(http.Request.Method) ? Task.CompletedTask : http.Response.WriteAsync(message + "\n", http.RequestAborted);
    }
}

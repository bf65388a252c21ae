using System.Net;
using System.Net.Http.Headers;
using MetaNode.Storage;
using MetaNode.Workloads;

namespace MetaNode.Grains.Storage;

/// <summary>The silo's side of the block store protocol (<see cref="StorageProtocol"/>): the storage grain's I/O to storage vPods.</summary>
public sealed class StorageWorkloadClient(HttpClient http)
{
    public async Task PutAsync(Uri endpoint, Cid cid, byte[] data, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(cid);
        using var content = new ByteArrayContent(data);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
        using var response = await http.PutAsync(new Uri(endpoint, StorageProtocol.BlockPath(cid.ToString())), content, cancellationToken).ConfigureAwait(false);
        if (!response.IsSuccessStatusCode)
        {
            throw new HttpRequestException($"{endpoint} refused block {cid}: {(int)response.StatusCode} {await ReasonAsync(response, cancellationToken).ConfigureAwait(false)}", null, response.StatusCode);
        }
    }

    /// <summary>The block from that vPod, checked against its CID; null when the vPod does not hold it (or holds bytes that do not match).</summary>
    public async Task<byte[]?> GetAsync(Uri endpoint, Cid cid, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(cid);
        using var response = await http.GetAsync(new Uri(endpoint, StorageProtocol.BlockPath(cid.ToString())), HttpCompletionOption.ResponseHeadersRead, cancellationToken).ConfigureAwait(false);
        if (response.StatusCode == HttpStatusCode.NotFound)
        {
            return null;
        }

        if (!response.IsSuccessStatusCode)
        {
            throw new HttpRequestException($"{endpoint} could not read block {cid}: {(int)response.StatusCode} {await ReasonAsync(response, cancellationToken).ConfigureAwait(false)}", null, response.StatusCode);
        }

        if (response.Content.Headers.ContentLength is > StorageProtocol.MaxBlockBytes)
        {
            return null;
        }

        var bytes = await response.Content.ReadAsByteArrayAsync(cancellationToken).ConfigureAwait(false);
        return bytes.Length <= StorageProtocol.MaxBlockBytes && cid.Verifies(bytes) ? bytes : null;
    }

    public async Task DeleteAsync(Uri endpoint, Cid cid, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(cid);
        using var response = await http.DeleteAsync(new Uri(endpoint, StorageProtocol.BlockPath(cid.ToString())), cancellationToken).ConfigureAwait(false);
        if (!response.IsSuccessStatusCode)
        {
            throw new HttpRequestException($"{endpoint} could not delete block {cid}: {(int)response.StatusCode}", null, response.StatusCode);
        }
    }

    private static async Task<string> ReasonAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        var text = await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false);
        return text.Length > 300 ? text[..300] : text;
    }
}

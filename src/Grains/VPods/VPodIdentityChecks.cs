using MetaNode.VPods;

namespace MetaNode.Grains.VPods;

/// <summary>The vPods that proved their admitted keys just now, and why each of the others was refused.</summary>
public sealed record ProvenVPods(IReadOnlyDictionary<string, VPodStatus> Proven, IReadOnlyList<string> Refusals);

/// <summary>
/// Has each vPod's workload prove, over a fresh nonce, the admitted key it holds (<see cref="IVPodGrain.VerifyIdentityAsync"/>):
/// what a job and a validator set require of every member. A vPod that speaks no protocol, is not running, or proved another
/// address than the admitted one is refused with a message naming it.
/// </summary>
public static class VPodIdentityChecks
{
    public static async Task<ProvenVPods> ProveAsync(IGrainFactory grains, IEnumerable<string> vpodIds, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(grains);
        ArgumentNullException.ThrowIfNull(vpodIds);
        var results = await Task.WhenAll(vpodIds.Distinct(StringComparer.Ordinal).Select(async id =>
        {
            try
            {
                var status = await grains.GetGrain<IVPodGrain>(id).VerifyIdentityAsync(cancellationToken);
                return status.Identity == VPodIdentityState.Proven
                    ? (Id: id, Status: status, Refusal: (string?)null)
                    : (Id: id, Status: (VPodStatus?)null, Refusal: $"vPod '{id}' proved address {status.ProvedAddress}, not its admitted address {status.Address}: it is kept out until an operator admits it ('metanode-cli vpod admit --id {id} --address {status.ProvedAddress}')");
            }
            catch (Exception exception) when (exception is VPodIdentityException or VPodNotFoundException)
            {
                return (Id: id, Status: (VPodStatus?)null, Refusal: exception.Message);
            }
        }));
        return new ProvenVPods(
            results.Where(r => r.Status is not null).ToDictionary(r => r.Id, r => r.Status!, StringComparer.Ordinal),
            results.Where(r => r.Refusal is not null).OrderBy(r => r.Id, StringComparer.Ordinal).Select(r => r.Refusal!).ToList());
    }
}

using MetaNode.Chain;
using MetaNode.Workload.Keys;
using MetaNode.Workloads;

namespace MetaNode.Workload.Federation;

/// <summary>
/// <c>POST /v2/identity</c>: proves the workload holds the vPod's key by signing the EIP-712 <c>Identity(vpod, nonce, chainId)</c>
/// over the caller's fresh nonce — only for its own vPod id.
/// </summary>
public sealed class IdentityProof(VPodKey key, string vpodId)
{
    public IdentityResponse Prove(IdentityRequest? request)
    {
        if (request is null)
        {
            throw new InvalidWorkloadRequestException("The body must be a JSON object with vpodId, nonce and chainId.");
        }

        if (!string.Equals(request.VPodId, vpodId, StringComparison.Ordinal))
        {
            throw new InvalidWorkloadRequestException($"vpodId '{request.VPodId}' is not this workload's vPod ('{vpodId}'): a workload proves only its own identity.");
        }

        var nonce = ParseBytes32(request.Nonce, "nonce");
        CheckChainId(request.ChainId);
        return new IdentityResponse(vpodId, key.Address, key.Sign(VPodTypedData.IdentityDigest(vpodId, nonce, request.ChainId)));
    }

    /// <summary><c>0x</c> + 64 hex digits as 32 bytes; 400 naming the field otherwise.</summary>
    public static byte[] ParseBytes32(string? text, string field)
    {
        if (text is null || !text.StartsWith("0x", StringComparison.Ordinal) || !HexValues.IsHex(text, 32))
        {
            throw new InvalidWorkloadRequestException($"{field} '{text}' must be 0x and 64 hex digits (32 bytes).");
        }

        return Convert.FromHexString(text.AsSpan(2));
    }

    public static void CheckChainId(long chainId)
    {
        if (chainId < 0)
        {
            throw new InvalidWorkloadRequestException($"chainId '{chainId}' must not be negative.");
        }
    }
}

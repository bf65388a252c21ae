using System.Security.Cryptography;
using MetaNode.Chain;
using MetaNode.Federation;
using MetaNode.Grains.Chain;
using MetaNode.Grains.Federation;
using MetaNode.VPods;

namespace MetaNode.Grains.VPods;

/// <summary>
/// Challenges a workload to prove its key: a fresh 32-byte nonce from the silo, the chain's id, and the workload's EIP-712
/// <c>Identity(vpod, nonce, chainId)</c> signature, from which the address is recovered here. The workload chooses nothing it signs.
/// </summary>
public sealed class WorkloadIdentityVerifier(FederatedWorkloadClient workloads, ChainConnector chain)
{
    /// <summary>The address the workload at <paramref name="endpoint"/> proved for <paramref name="vpodId"/>; throws <see cref="VPodIdentityException"/> otherwise.</summary>
    public async Task<string> ProveAsync(string vpodId, string? endpoint, CancellationToken cancellationToken)
    {
        if (endpoint is null)
        {
            throw new VPodIdentityException(vpodId, $"vPod '{vpodId}' cannot prove its identity: its workload has no protocol endpoint (it speaks no workload protocol, e.g. a plain --command). Run a workload that speaks workload protocol {MetaNode.Workloads.WorkloadProtocol.Version}.");
        }

        var chainId = chain.Endpoint is null ? 0 : await chain.GetChainIdAsync(cancellationToken);
        var nonce = RandomNumberGenerator.GetBytes(FederationHashing.HashLength);
        IdentityAnswer answer;
        try
        {
            var response = await workloads.ProveIdentityAsync(new Uri(endpoint), vpodId, nonce, chainId, cancellationToken);
            answer = new IdentityAnswer(response.VPodId, response.Address, response.Signature);
        }
        catch (WorkloadRequestException exception)
        {
            throw new VPodIdentityException(vpodId, $"vPod '{vpodId}' did not prove its identity: {exception.Message}. Its workload must speak workload protocol {MetaNode.Workloads.WorkloadProtocol.Version}.");
        }

        var recovered = VPodTypedData.RecoverIdentity(vpodId, nonce, chainId, answer.Signature);
        if (recovered is null || !string.Equals(recovered, answer.Address, StringComparison.OrdinalIgnoreCase) || !string.Equals(answer.VPodId, vpodId, StringComparison.Ordinal))
        {
            throw new VPodIdentityException(vpodId, $"vPod '{vpodId}' answered the identity challenge with a signature that does not prove address {answer.Address}: it is not admitted.");
        }

        return recovered;
    }

    private sealed record IdentityAnswer(string? VPodId, string? Address, string? Signature);
}

using MetaNode.Chain;
using MetaNode.Federation;
using MetaNode.Workload.Keys;
using MetaNode.Workloads;

namespace MetaNode.Workload.Federation;

/// <summary>
/// <c>POST /v2/sign-rotation</c>: signs the registry's <c>RotateValidators(validators, threshold, nonce)</c> digest, but only when every
/// proposed validator address comes with an identity proof over that very digest (<c>Identity(vpod, nonce = digest, chainId)</c>)
/// that recovers to it — the validator checks each new key itself rather than trusting the caller's list.
/// </summary>
public sealed class RotationSigning(VPodKey key, string vpodId)
{
    public SignatureResponse Sign(RotationRequest? request)
    {
        if (request is null)
        {
            throw new InvalidWorkloadRequestException("The body must be a JSON object with chainId, registry, validators, threshold, nonce and proofs.");
        }

        IdentityProof.CheckChainId(request.ChainId);
        var registry = RoundValidation.CheckAddress(request.Registry, "registry");
        if (request.Validators is not { Length: > 0 } validators)
        {
            throw new InvalidWorkloadRequestException("validators is empty: a registry needs at least one validator.");
        }

        var addresses = new List<string>(validators.Length);
        for (var i = 0; i < validators.Length; i++)
        {
            var address = RoundValidation.CheckAddress(validators[i], $"validators[{i}]");
            if (addresses.Contains(address, StringComparer.Ordinal))
            {
                throw new InvalidWorkloadRequestException($"validators[{i}] '{validators[i]}' is listed twice.");
            }

            addresses.Add(address);
        }

        if (request.Threshold < 1 || request.Threshold > addresses.Count)
        {
            throw new InvalidWorkloadRequestException($"threshold '{request.Threshold}' must be from 1 to the number of validators ({addresses.Count}).");
        }

        if (request.Nonce < 0)
        {
            throw new InvalidWorkloadRequestException($"nonce '{request.Nonce}' must not be negative.");
        }

        var digest = RegistryTypedData.RotationDigest(new RegistryDomain(request.ChainId, registry), addresses, request.Threshold, request.Nonce);
        var proven = new HashSet<string>(StringComparer.Ordinal);
        foreach (var proof in request.Proofs ?? [])
        {
            if (proof is null || string.IsNullOrEmpty(proof.VPodId))
            {
                continue;
            }

            if (VPodTypedData.RecoverIdentity(proof.VPodId, digest, request.ChainId, proof.Signature) is { } signer)
            {
                proven.Add(signer);
            }
        }

        foreach (var address in addresses)
        {
            if (!proven.Contains(address))
            {
                throw new WorkloadConflictException(
                    $"no identity proof recovers to proposed validator {address}: each one must sign Identity(vpod, nonce = the rotation digest {FederationHashing.ToHex(digest)}, chainId {request.ChainId}) with its key");
            }
        }

        return new SignatureResponse(vpodId, key.Address, key.Sign(digest));
    }
}

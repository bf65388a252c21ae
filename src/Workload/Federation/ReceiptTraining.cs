using MetaNode.Chain;
using MetaNode.Federation;
using MetaNode.Workload.Keys;
using MetaNode.Workloads;

namespace MetaNode.Workload.Federation;

/// <summary>
/// <c>POST /v2/train</c>: trains on the local split and signs the round's <see cref="TrainingReceipt"/> with the vPod's own key —
/// <c>(job, round, this vPod, the train split's rows, keccak-256 of the update's canonical encoding)</c> under the vPod domain of
/// the request's chain. The receipt states only what this workload did; the caller chooses none of its fields but job, round and chain.
/// </summary>
public sealed class ReceiptTraining(LocalLearning learning, VPodKey key, string vpodId)
{
    public TrainResponse Train(TrainRequest? request)
    {
        if (request is null)
        {
            throw new InvalidWorkloadRequestException("The body must be a JSON object with job, model and hyperParameters.");
        }

        if (string.IsNullOrEmpty(request.Job))
        {
            throw new InvalidWorkloadRequestException("job is missing: a receipt names the job it was trained for.");
        }

        IdentityProof.CheckChainId(request.ChainId);
        var trained = learning.Train(request);
        var receipt = new TrainingReceipt(request.Job, request.Round, vpodId, trained.SampleCount, ModelEncoding.HashHex(trained.Model));
        var signed = receipt with { Signature = key.Sign(VPodTypedData.ReceiptDigest(receipt, request.ChainId)) };
        return new TrainResponse(request.Job, request.Round, vpodId, ModelDto.From(trained.Model), trained.SampleCount, trained.Metrics, ReceiptDto.From(signed));
    }
}

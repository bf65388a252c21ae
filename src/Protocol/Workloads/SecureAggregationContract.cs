using System.Text.Json.Serialization;

namespace MetaNode.Workloads;

/// <summary>The secure-aggregation paths of the workload protocol (<c>examples/workload-protocol.md</c>, "Secure aggregation").</summary>
public static class SecureAggregationPaths
{
    public const string Keys = "/v2/secagg/keys";
    public const string Shares = "/v2/secagg/shares";
    public const string Train = "/v2/secagg/train";
    public const string Survivors = "/v2/secagg/survivors";
    public const string Reveal = "/v2/secagg/reveal";
    public const string Aggregate = "/v2/secagg/aggregate";

    /// <summary>The compute workload's state directory below its key directory: <c>{keyDir}/secagg/{job}/</c>.</summary>
    public const string StateDirectory = "secagg";
}

public sealed record SecAggParticipantDto(
    [property: JsonPropertyName("vpodId")] string VPodId,
    [property: JsonPropertyName("address")] string Address);

/// <summary>Stage 1: make (or return) the round's key pairs. The first request of a job fixes its participants, seed and threshold.</summary>
public sealed record SecAggKeysRequest(
    [property: JsonPropertyName("job")] string? Job,
    [property: JsonPropertyName("round")] int Round,
    [property: JsonPropertyName("chainId")] long ChainId,
    [property: JsonPropertyName("seed")] ulong Seed,
    [property: JsonPropertyName("threshold")] int Threshold,
    [property: JsonPropertyName("participants")] SecAggParticipantDto[]? Participants);

/// <summary>A vPod's advertised keys (P-256, <c>0x04…</c>), signed as <c>SecAggKeys</c>.</summary>
public sealed record SecAggKeysDto(
    [property: JsonPropertyName("vpodId")] string VPodId,
    [property: JsonPropertyName("cipherKey")] string CipherKey,
    [property: JsonPropertyName("maskKey")] string MaskKey,
    [property: JsonPropertyName("signature")] string? Signature);

/// <summary>Stage 2: the advertised keys; the answer holds one sealed share envelope per other holder.</summary>
public sealed record SecAggSharesRequest(
    [property: JsonPropertyName("job")] string? Job,
    [property: JsonPropertyName("round")] int Round,
    [property: JsonPropertyName("keys")] SecAggKeysDto[]? Keys);

/// <summary>A sealed share message: <c>to</c> in a shares answer, <c>from</c> in a train request.</summary>
public sealed record SecAggEnvelopeDto(
    [property: JsonPropertyName("from")] string? From,
    [property: JsonPropertyName("to")] string? To,
    [property: JsonPropertyName("ciphertext")] string Ciphertext);

public sealed record SecAggSharesResponse(
    [property: JsonPropertyName("vpodId")] string VPodId,
    [property: JsonPropertyName("shares")] SecAggEnvelopeDto[] Shares);

/// <summary>Stage 3: train as <c>/v2/train</c>, then quantize and mask with the neighbours whose envelopes open.</summary>
public sealed record SecAggTrainRequest(
    [property: JsonPropertyName("job")] string? Job,
    [property: JsonPropertyName("round")] int Round,
    [property: JsonPropertyName("chainId")] long ChainId,
    [property: JsonPropertyName("assignedSamples")] long? AssignedSamples,
    [property: JsonPropertyName("maxSamples")] long MaxSamples,
    [property: JsonPropertyName("model")] ModelDto? Model,
    [property: JsonPropertyName("standardization")] StandardizationDto? Standardization,
    [property: JsonPropertyName("hyperParameters")] HyperParametersDto? HyperParameters,
    [property: JsonPropertyName("shares")] SecAggEnvelopeDto[]? Shares);

public sealed record SecAggTrainResponse(
    [property: JsonPropertyName("job")] string Job,
    [property: JsonPropertyName("round")] int Round,
    [property: JsonPropertyName("vpodId")] string VPodId,
    [property: JsonPropertyName("masked")] uint[] Masked,
    [property: JsonPropertyName("maskedWith")] string[] MaskedWith,
    [property: JsonPropertyName("maxSamples")] long MaxSamples,
    [property: JsonPropertyName("sampleCount")] long SampleCount,
    [property: JsonPropertyName("metrics")] TrainingMetricsDto? Metrics,
    [property: JsonPropertyName("receipt")] ReceiptDto Receipt);

/// <summary>Stage 4: the vPods whose masked updates the job holds.</summary>
public sealed record SecAggSurvivorsRequest(
    [property: JsonPropertyName("job")] string? Job,
    [property: JsonPropertyName("round")] int Round,
    [property: JsonPropertyName("survivors")] string[]? Survivors);

public sealed record SecAggSignatureDto(
    [property: JsonPropertyName("vpodId")] string VPodId,
    [property: JsonPropertyName("signature")] string? Signature);

/// <summary>Stage 5: the survivor set with at least t survivors' signatures over it.</summary>
public sealed record SecAggRevealRequest(
    [property: JsonPropertyName("job")] string? Job,
    [property: JsonPropertyName("round")] int Round,
    [property: JsonPropertyName("survivors")] string[]? Survivors,
    [property: JsonPropertyName("signatures")] SecAggSignatureDto[]? Signatures);

public sealed record SecAggShareDto(
    [property: JsonPropertyName("peer")] string Peer,
    [property: JsonPropertyName("kind")] string Kind,
    [property: JsonPropertyName("share")] string Share);

public sealed record SecAggRevealDto(
    [property: JsonPropertyName("vpodId")] string VPodId,
    [property: JsonPropertyName("shares")] SecAggShareDto[] Shares,
    [property: JsonPropertyName("signature")] string? Signature);

public sealed record SecAggMaskedDto(
    [property: JsonPropertyName("receipt")] ReceiptDto Receipt,
    [property: JsonPropertyName("masked")] uint[] Masked,
    [property: JsonPropertyName("maskedWith")] string[] MaskedWith,
    [property: JsonPropertyName("maxSamples")] long MaxSamples);

/// <summary>The validator's secure round: the whole transcript; it unmasks only the sum, evaluates and signs as <c>/v2/aggregate</c>.</summary>
public sealed record SecAggAggregateRequest(
    [property: JsonPropertyName("job")] string Job,
    [property: JsonPropertyName("round")] int Round,
    [property: JsonPropertyName("chainId")] long ChainId,
    [property: JsonPropertyName("registry")] string Registry,
    [property: JsonPropertyName("seed")] ulong Seed,
    [property: JsonPropertyName("threshold")] int Threshold,
    [property: JsonPropertyName("global")] ModelDto Global,
    [property: JsonPropertyName("standardization")] StandardizationDto? Standardization,
    [property: JsonPropertyName("participants")] ParticipantDto[] Participants,
    [property: JsonPropertyName("keys")] SecAggKeysDto[] Keys,
    [property: JsonPropertyName("survivors")] string[] Survivors,
    [property: JsonPropertyName("survivorSignatures")] SecAggSignatureDto[] SurvivorSignatures,
    [property: JsonPropertyName("updates")] SecAggMaskedDto[] Updates,
    [property: JsonPropertyName("reveals")] SecAggRevealDto[] Reveals,
    [property: JsonPropertyName("serverOptimizer")] ServerOptimizerDto? ServerOptimizer = null,
    [property: JsonPropertyName("optimizerState")] OptimizerStateDto? OptimizerState = null);

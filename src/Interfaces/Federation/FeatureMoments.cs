namespace MetaNode.Federation;

/// <summary>What a vPod reveals of its partition for standardization: the row count and per-feature sums and sums of squares — never rows.</summary>
[GenerateSerializer, Alias("MetaNode.Federation.FeatureMoments")]
public sealed record FeatureMoments(
    [property: Id(0)] string VPodId,
    [property: Id(1)] long Count,
    [property: Id(2)] double[] Sum,
    [property: Id(3)] double[] SumOfSquares);

/// <summary>The global standardization workloads apply: <c>(x - Mean[j]) / Scale[j]</c>.</summary>
[GenerateSerializer, Alias("MetaNode.Federation.Standardization")]
public sealed record Standardization(
    [property: Id(0)] double[] Mean,
    [property: Id(1)] double[] Scale);

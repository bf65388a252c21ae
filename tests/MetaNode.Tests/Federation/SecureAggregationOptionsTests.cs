using MetaNode.Clusters;
using MetaNode.Federation;
using MetaNode.Grains.Federation;

namespace MetaNode.Tests.Federation;

/// <summary>Every algorithm option means what it says: each combination the code cannot honour is refused with its reason.</summary>
public sealed class SecureAggregationOptionsTests
{
    private static FederatedJobArguments Arguments(string algorithm) => new() { Algorithm = algorithm, ComputeCluster = "c", ValidatorCluster = "v", Dataset = "digits" };

    private static string Refusal(FederatedJobArguments arguments) =>
        Assert.Throws<InvalidJobSpecException>(() => FederatedJobSpecParser.Parse(arguments)).Message;

    [Fact]
    public void Parse_TakesTheThresholdAndEncryption_ForSecureAggregation()
    {
        var spec = FederatedJobSpecParser.Parse(Arguments("secure-aggregation") with { SecurityThreshold = "7", Encryption = true });
        Assert.Equal((FederatedAlgorithm.SecureAggregation, 7, true), (spec.Algorithm, spec.SecurityThreshold, spec.Encryption));
        Assert.Null(FederatedJobSpecParser.Parse(Arguments("secure-aggregation")).SecurityThreshold);
    }

    [Fact]
    public void Parse_RefusesWhatNoCodeHonours()
    {
        Assert.Contains("encryption is not available with federated-average", Refusal(Arguments("federated-average") with { Encryption = true }), StringComparison.Ordinal);
        Assert.Contains("applies only to secure-aggregation", Refusal(Arguments("federated-average") with { SecurityThreshold = "3" }), StringComparison.Ordinal);
        Assert.Contains("cannot be used with secure-aggregation", Refusal(Arguments("secure-aggregation") with { Robust = "median" }), StringComparison.Ordinal);
        Assert.Contains("cannot be used with secure-aggregation", Refusal(Arguments("secure-aggregation") with { Robust = "trimmed-mean:0.1" }), StringComparison.Ordinal);
        Assert.Contains("security-threshold 'x' is not a whole number", Refusal(Arguments("secure-aggregation") with { SecurityThreshold = "x" }), StringComparison.Ordinal);
        Assert.Contains("security-threshold '1' is invalid", Refusal(Arguments("secure-aggregation") with { SecurityThreshold = "1" }), StringComparison.Ordinal);
    }

    private static FederatedJobSpec Secure(int? threshold = null) => new() { Algorithm = FederatedAlgorithm.SecureAggregation, ComputeCluster = "c", ValidatorCluster = "v", Dataset = "digits", SecurityThreshold = threshold };

    private static ClusterSpec Cluster(string name, AggregationAlgorithm algorithm, int? threshold = null) => new() { Name = name, Count = 10, Algorithm = algorithm, SecurityThreshold = threshold };

    [Fact]
    public void Threshold_DefaultsToTheClusters_ThenToAMajority_AndConflictsAreRefused()
    {
        var errors = new List<string>();
        Assert.Equal(6, FederatedJobStateMachine.SecurityThreshold(Secure(), [Cluster("c", AggregationAlgorithm.FederatedAverage)], 10, errors));
        Assert.Equal(7, FederatedJobStateMachine.SecurityThreshold(Secure(), [Cluster("c", AggregationAlgorithm.SecureAggregation, 7)], 10, errors));
        Assert.Equal(7, FederatedJobStateMachine.SecurityThreshold(Secure(7), [Cluster("c", AggregationAlgorithm.SecureAggregation, 7)], 10, errors));
        Assert.Empty(errors);

        FederatedJobStateMachine.SecurityThreshold(Secure(8), [Cluster("c", AggregationAlgorithm.SecureAggregation, 7)], 10, errors);
        Assert.Contains(errors, e => e.Contains("conflicts with compute cluster 'c', deployed with t=7", StringComparison.Ordinal));
        errors.Clear();
        FederatedJobStateMachine.SecurityThreshold(Secure(), [Cluster("a", AggregationAlgorithm.SecureAggregation, 6), Cluster("b", AggregationAlgorithm.SecureAggregation, 7)], 20, errors);
        Assert.Contains(errors, e => e.Contains("disagree on the security threshold", StringComparison.Ordinal));
        errors.Clear();
        FederatedJobStateMachine.SecurityThreshold(Secure() with { Algorithm = FederatedAlgorithm.FederatedAverage }, [Cluster("c", AggregationAlgorithm.SecureAggregation, 6)], 10, errors);
        Assert.Contains(errors, e => e.Contains("was deployed for secure-aggregation", StringComparison.Ordinal));
        errors.Clear();
        FederatedJobStateMachine.SecurityThreshold(Secure(5), [], 10, errors);
        Assert.Contains(errors, e => e.Contains("use 6 (a majority", StringComparison.Ordinal));
        errors.Clear();
        FederatedJobStateMachine.SecurityThreshold(Secure(), [], 1025, errors);
        Assert.Contains(errors, e => e.Contains("at most 1024 participants", StringComparison.Ordinal));
    }

    [Fact]
    public void ClusterValidation_RefusesEncryptionWithoutSecureAggregation_AndAThresholdTheGroupCannotUse()
    {
        Assert.Contains(ClusterSpecValidation.Validate(new ClusterSpec { Name = "c1", Count = 3, EncryptionEnabled = true }), e => e.Contains("encryption is not available with federated-average", StringComparison.Ordinal));
        Assert.Empty(ClusterSpecValidation.Validate(new ClusterSpec { Name = "c1", Count = 5, Algorithm = AggregationAlgorithm.SecureAggregation, SecurityThreshold = 3, EncryptionEnabled = true }));
        Assert.Contains(ClusterSpecValidation.Validate(new ClusterSpec { Name = "c1", Count = 5, Algorithm = AggregationAlgorithm.SecureAggregation, SecurityThreshold = 2 }), e => e.Contains("use 3 (a majority", StringComparison.Ordinal));
    }
}

using MetaNode.Federation;

namespace MetaNode.Tests.Federation;

public sealed class JobSpecTests
{
    private static readonly FederatedJobArguments Valid = new()
    {
        Algorithm = "federated-average",
        ComputeCluster = "compute",
        ValidatorCluster = "validators",
        Dataset = "digits",
        Partition = "dirichlet:0.5",
        Rounds = "10",
        LocalEpochs = "5",
        BatchSize = "16",
        LearningRate = "0.1",
        MinParticipants = "8",
        RoundDeadline = "30s",
        Quorum = "2",
        Seed = "7",
        Robust = "trimmed-mean:0.1",
    };

    [Fact]
    public void Parse_BuildsTheSpec_WhenEveryOptionIsValid()
    {
        var spec = FederatedJobSpecParser.Parse(Valid);

        Assert.Equal(FederatedAlgorithm.FederatedAverage, spec.Algorithm);
        Assert.Equal(PartitionScheme.Dirichlet(0.5), spec.Partition);
        Assert.Equal((10, 5, 16, 0.1, 8, 2, 7UL), (spec.Rounds, spec.LocalEpochs, spec.BatchSize, spec.LearningRate, spec.MinParticipants, spec.Quorum, spec.Seed));
        Assert.Equal(TimeSpan.FromSeconds(30), spec.RoundDeadline);
        Assert.Equal(AggregationRule.TrimmedMean(0.1), spec.Robust);
        Assert.Equal("trimmed-mean:0.1", spec.Robust.ToString());
        Assert.Equal("dirichlet:0.5", spec.Partition.ToString());
    }

    [Fact]
    public void Parse_UsesDefaults_WhenOnlyClustersAndDatasetAreGiven()
    {
        var spec = FederatedJobSpecParser.Parse(new FederatedJobArguments { ComputeCluster = "c", ValidatorCluster = "v", Dataset = "synthetic" });

        Assert.Equal(PartitionScheme.Iid, spec.Partition);
        Assert.Equal(AggregationRule.FederatedAverage, spec.Robust);
        Assert.Equal(FederatedJobSpecParser.DefaultSeed, spec.Seed);
        Assert.Empty(FederatedJobSpecParser.Validate(spec));
    }

    [Theory]
    [InlineData("Partition", "dirichlet:-1", "partition 'dirichlet:-1'")]
    [InlineData("Partition", "shards", "partition 'shards' is unknown")]
    [InlineData("Rounds", "0", "rounds '0' is invalid")]
    [InlineData("Rounds", "ten", "rounds 'ten' is not a whole number")]
    [InlineData("LocalEpochs", "-2", "local-epochs '-2' is invalid")]
    [InlineData("BatchSize", "0", "batch '0' is invalid")]
    [InlineData("LearningRate", "0", "lr '0' is invalid")]
    [InlineData("LearningRate", "fast", "lr 'fast' is not a number")]
    [InlineData("MinParticipants", "0", "min-participants '0' is invalid")]
    [InlineData("RoundDeadline", "soon", "round-deadline 'soon' is not a duration")]
    [InlineData("RoundDeadline", "0s", "round-deadline '00:00:00' is invalid")]
    [InlineData("Quorum", "0", "quorum '0' is invalid")]
    [InlineData("Seed", "9007199254740992", "seed '9007199254740992' is invalid")]
    [InlineData("Robust", "trimmed-mean:0.5", "robust 'trimmed-mean:0.5'")]
    [InlineData("Robust", "krum", "robust 'krum' is unknown")]
    [InlineData("Algorithm", "gossip", "algorithm 'gossip' is unknown")]
    [InlineData("Dataset", " ", "dataset is required")]
    public void Parse_ThrowsNamingTheOptionAndValue_WhenOneOptionIsBad(string property, string value, string expected)
    {
        var arguments = Valid with { };
        typeof(FederatedJobArguments).GetProperty(property)!.SetValue(arguments, value);

        var error = Assert.Throws<InvalidJobSpecException>(() => FederatedJobSpecParser.Parse(arguments));

        var only = Assert.Single(error.Errors);
        Assert.Contains(expected, only);
    }

    [Fact]
    public void Parse_ReportsEveryProblemAtOnce_WhenSeveralOptionsAreBad()
    {
        var error = Assert.Throws<InvalidJobSpecException>(() => FederatedJobSpecParser.Parse(Valid with { Rounds = "0", BatchSize = "x", ComputeCluster = null }));

        Assert.Equal(3, error.Errors.Count);
        Assert.Contains(error.Errors, e => e.StartsWith("rounds", StringComparison.Ordinal));
        Assert.Contains(error.Errors, e => e.StartsWith("batch", StringComparison.Ordinal));
        Assert.Contains(error.Errors, e => e.StartsWith("compute-cluster", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData(10, 3, 2, 0)]
    [InlineData(5, 3, 2, 1)]
    [InlineData(10, 4, 2, 1)]
    [InlineData(10, 1, 2, 1)]
    public void ValidateAgainstClusters_ReportsErrors_WhenComputeVPodsAreTooFewOrTheQuorumIsNoMajority(int compute, int validators, int quorum, int expectedErrors)
    {
        var spec = FederatedJobSpecParser.Parse(Valid with { Quorum = quorum.ToString(System.Globalization.CultureInfo.InvariantCulture) });

        Assert.Equal(expectedErrors, FederatedJobSpecParser.ValidateAgainstClusters(spec, compute, validators).Count);
    }

    [Theory]
    [InlineData("500ms", 500)]
    [InlineData("30s", 30_000)]
    [InlineData("1.5m", 90_000)]
    [InlineData("1h", 3_600_000)]
    [InlineData("00:00:45", 45_000)]
    public void TryParseDuration_ReadsTheDuration_WhenGivenAUnitOrATimeSpan(string text, double milliseconds)
    {
        Assert.True(FederatedJobSpecParser.TryParseDuration(text, out var duration));
        Assert.Equal(milliseconds, duration.TotalMilliseconds);
    }

    [Fact]
    public void ComputeClusters_SplitsACommaSeparatedList_InTheOrderGiven()
    {
        var spec = FederatedJobSpecParser.Parse(Valid with { ComputeCluster = " cs , py " });

        Assert.Equal(["cs", "py"], FederatedJobSpecParser.ComputeClusters(spec));
        Assert.Equal(["compute"], FederatedJobSpecParser.ComputeClusters(FederatedJobSpecParser.Parse(Valid)));
    }

    [Theory]
    [InlineData("a,,b", "compute-cluster 'a,,b' is invalid")]
    [InlineData("a,", "compute-cluster 'a,' is invalid")]
    [InlineData("a,b,a", "compute-cluster 'a' is named more than once")]
    public void Parse_RejectsAnEmptyOrRepeatedComputeCluster(string clusters, string expected)
    {
        var error = Assert.Throws<InvalidJobSpecException>(() => FederatedJobSpecParser.Parse(Valid with { ComputeCluster = clusters }));

        Assert.Contains(expected, Assert.Single(error.Errors), StringComparison.Ordinal);
    }

    [Fact]
    public void ValidateAgainstClusters_NamesEveryComputeCluster_WhenSeveralAreTooSmall()
    {
        var spec = FederatedJobSpecParser.Parse(Valid with { ComputeCluster = "cs,py", MinParticipants = "5" });

        var error = Assert.Single(FederatedJobSpecParser.ValidateAgainstClusters(spec, 4, 3));
        Assert.Contains("4 vPods of compute clusters 'cs', 'py'", error, StringComparison.Ordinal);
    }
}

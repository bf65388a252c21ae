using MetaNode.Federation;
using MetaNode.Grains.Federation;

namespace MetaNode.Tests.Federation;

public sealed class AggregationTests
{
    private static WeightedModel Update(string vpod, long samples, params double[] parameters) =>
        new(vpod, samples, new FederatedModel(1, parameters.Length - 1, parameters));

    [Fact]
    public void FederatedAverage_WeightsBySampleCount_WhenCountsDiffer()
    {
        var model = ModelAggregation.FederatedAverage([Update("vpod-a", 1, 0, 4), Update("vpod-b", 3, 4, 8)]);

        Assert.Equal([3.0, 7.0], model.Parameters);
    }

    [Fact]
    public void FederatedAverage_GivesIdenticalBytes_WhenUpdatesArriveInAnyOrder()
    {
        var random = new DeterministicRandom(7);
        var updates = Enumerable.Range(0, 10)
            .Select(i => Update($"vpod-{i:D2}", 10 + random.NextInt(200), [.. Enumerable.Range(0, 65).Select(_ => random.NextNormal())]))
            .ToList();
        var reference = ModelEncoding.Encode(ModelAggregation.FederatedAverage(updates));

        for (var trial = 0; trial < 5; trial++)
        {
            var shuffled = updates.ToList();
            new DeterministicRandom((ulong)trial).Shuffle(shuffled);
            Assert.Equal(reference, ModelEncoding.Encode(ModelAggregation.FederatedAverage(shuffled)));
        }
    }

    [Fact]
    public void FederatedAverage_Throws_WhenShapesDifferOrAVPodAppearsTwiceOrNothingIsGiven()
    {
        Assert.Contains("appears twice", Assert.Throws<ArgumentException>(() => ModelAggregation.FederatedAverage([Update("a", 1, 0, 1), Update("a", 1, 0, 1)])).Message);
        Assert.Throws<ArgumentException>(() => ModelAggregation.FederatedAverage([Update("a", 1, 0, 1), Update("b", 1, 0, 1, 2)]));
        Assert.Throws<ArgumentException>(() => ModelAggregation.FederatedAverage([Update("a", 0, 0, 1)]));
        Assert.Throws<ArgumentException>(() => ModelAggregation.FederatedAverage([]));
    }

    [Fact]
    public void Median_TakesTheMiddleValuePerCoordinate_WhenWeightsDiffer()
    {
        var odd = ModelAggregation.Median([Update("a", 100, 1, 9), Update("b", 1, 5, -3), Update("c", 1, 1000, 4)]);
        var even = ModelAggregation.Median([Update("a", 1, 1, 0), Update("b", 1, 2, 0), Update("c", 1, 4, 0), Update("d", 1, 100, 0)]);

        Assert.Equal([5.0, 4.0], odd.Parameters);
        Assert.Equal([3.0, 0.0], even.Parameters);
    }

    [Fact]
    public void TrimmedMean_DropsTheExtremesOfEachCoordinate_WhenFractionIsGiven()
    {
        var updates = new[] { Update("a", 1, 1, 10), Update("b", 1, 2, 20), Update("c", 1, 3, 30), Update("d", 1, 4, 40), Update("e", 1, 1000, -1000) };

        var trimmed = ModelAggregation.TrimmedMean(updates, 0.2);
        var untrimmed = ModelAggregation.TrimmedMean(updates, 0);

        Assert.Equal([3.0, 20.0], trimmed.Parameters);
        Assert.Equal([202.0, -180.0], untrimmed.Parameters);
        Assert.Throws<ArgumentOutOfRangeException>(() => ModelAggregation.TrimmedMean(updates, 0.5));
    }

    [Fact]
    public void Screen_RejectsTheUpdateFarFromTheOthers_WhenOnlyOneIsPoisoned()
    {
        var global = new FederatedModel(1, 1, [0, 0]);
        var updates = new[] { Update("a", 10, 1, 0), Update("b", 10, 0, 1.5), Update("c", 10, -1, -1), Update("d", 10, 500, 500) };

        var (accepted, rejected) = UpdateScreening.Screen(global, updates);

        Assert.Equal(["a", "b", "c"], accepted.Select(a => a.VPodId));
        var poisoned = Assert.Single(rejected);
        Assert.Equal("d", poisoned.VPodId);
        Assert.Contains("median norm", poisoned.Reason);
    }

    [Fact]
    public void Screen_KeepsEverything_WhenFewerThanThreeUpdates()
    {
        var (accepted, rejected) = UpdateScreening.Screen(new FederatedModel(1, 1, [0, 0]), [Update("a", 1, 1, 1), Update("b", 1, 900, 900)]);

        Assert.Equal(2, accepted.Count);
        Assert.Empty(rejected);
    }

    [Fact]
    public void StandardizationCombiner_EqualsCentralMeanAndVariance_WhenMomentsComeFromParts()
    {
        var data = new TabularDataset("t", 2, [1, 5, 2, 5, 3, 5, 4, 5, 10, 5], [0, 1, 0, 1, 0]);
        var parts = new[] { new[] { 0, 1 }, new[] { 2 }, new[] { 3, 4 } };

        var standardization = StandardizationCombiner.Combine(parts.Select((rows, i) => StandardizationCombiner.Moments($"vpod-{i}", data, rows)).Reverse());

        Assert.Equal(4.0, standardization.Mean[0], 12);
        Assert.Equal(Math.Sqrt(10.0), standardization.Scale[0], 12);
        Assert.Equal(5.0, standardization.Mean[1]);
        Assert.Equal(1.0, standardization.Scale[1]);
    }

    [Fact]
    public void StandardizationCombiner_Throws_WhenMomentsDisagreeOrRepeat()
    {
        var a = new FeatureMoments("a", 2, [1, 2], [1, 2]);

        Assert.Throws<ArgumentException>(() => StandardizationCombiner.Combine([a, a]));
        Assert.Throws<ArgumentException>(() => StandardizationCombiner.Combine([a, new FeatureMoments("b", 1, [1], [1])]));
        Assert.Throws<ArgumentException>(() => StandardizationCombiner.Combine([new FeatureMoments("a", 0, [0], [0])]));
    }

    [Fact]
    public void Median_SortsNegativeZeroBeforeZero_WhateverTheArrivalOrder()
    {
        // -0.0 and 0.0 compare equal: only a total order makes the median's bits independent of the sorting algorithm.
        double[][] orders = [[0.0, -0.0, -1.0], [-0.0, 0.0, -1.0], [-1.0, 0.0, -0.0]];
        foreach (var values in orders)
        {
            var models = values.Select((v, i) => new WeightedModel($"vpod-{i}", 1, new FederatedModel(1, 1, [v, 0.5]))).ToList();
            var median = ModelAggregation.Median(models);
            Assert.True(double.IsNegative(median.Parameters[0]) && median.Parameters[0] == 0, $"median of [{string.Join(", ", values)}] is {median.Parameters[0]}");
        }
    }
}

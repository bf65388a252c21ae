using MetaNode.Federation;
using MetaNode.Grains.Federation;

namespace MetaNode.Tests.Federation;

public sealed class UpdateCopiesTests
{
    private static ModelUpdate Copy(double value, string signature) =>
        new(new TrainingReceipt("job-1", 1, "vpod-a", 10, "0x" + new string('0', 64), signature), new FederatedModel(1, 1, [value, 0]));

    private static bool Valid(ModelUpdate update) => update.Receipt.Signature == "valid";

    [Fact]
    public void Add_KeepsTheRealUpdate_WhenAFloodOfForgeriesFillsTheCopiesFirst()
    {
        var copies = new List<ModelUpdate>();
        for (var i = 0; i < 4; i++)
        {
            Assert.Equal(CopyOutcome.Kept, UpdateCopies.Add(copies, Copy(i, "forged"), 4, Valid));
        }

        Assert.Equal(CopyOutcome.Dropped, UpdateCopies.Add(copies, Copy(9, "forged"), 4, Valid));
        var real = Copy(0.5, "valid");
        Assert.Equal(CopyOutcome.ReplacedForgery, UpdateCopies.Add(copies, real, 4, Valid));

        Assert.Equal(4, copies.Count);
        Assert.Contains(real, copies);
        Assert.Equal(CopyOutcome.Duplicate, UpdateCopies.Add(copies, Copy(0.5, "valid"), 4, Valid));
    }

    [Fact]
    public void Add_KeepsEveryDistinctCopyUnjudged_UntilTheBound_AndDropsOnlyWhenNothingForgedCanMakeRoom()
    {
        var copies = new List<ModelUpdate>();
        Assert.Equal(CopyOutcome.Kept, UpdateCopies.Add(copies, Copy(1, "forged"), 2, Valid));
        Assert.Equal(CopyOutcome.Duplicate, UpdateCopies.Add(copies, Copy(1, "forged"), 2, Valid));
        Assert.Equal(CopyOutcome.Kept, UpdateCopies.Add(copies, Copy(2, "valid"), 2, Valid));
        Assert.Equal(CopyOutcome.ReplacedForgery, UpdateCopies.Add(copies, Copy(3, "valid"), 2, Valid));
        Assert.Equal(CopyOutcome.Dropped, UpdateCopies.Add(copies, Copy(4, "valid"), 2, Valid));
        Assert.All(copies, c => Assert.True(Valid(c)));
    }
}

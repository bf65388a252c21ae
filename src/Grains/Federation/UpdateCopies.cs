using MetaNode.Federation;

namespace MetaNode.Grains.Federation;

/// <summary>What a validator did with a copy of an update the stream brought.</summary>
public enum CopyOutcome
{
    /// <summary>The same receipt and model bytes are already held (a re-delivery).</summary>
    Duplicate,

    /// <summary>Held beside the other copies until the workload verifies them all.</summary>
    Kept,

    /// <summary>The vPod's copies were full: this validly signed copy took the place of one that is not.</summary>
    ReplacedForgery,

    /// <summary>The vPod's copies were full and none could make room for this one.</summary>
    Dropped,
}

/// <summary>
/// The validator's rule for the copies of one vPod's update in a round: every distinct copy is kept (none is judged before the
/// workload verifies it), up to a bound against a flood; at the bound a validly signed copy replaces one that is not, so forgeries
/// that arrive first can never crowd out the real update.
/// </summary>
public static class UpdateCopies
{
    public static CopyOutcome Add(List<ModelUpdate> copies, ModelUpdate update, int max, Func<ModelUpdate, bool> validlySigned)
    {
        ArgumentNullException.ThrowIfNull(copies);
        ArgumentNullException.ThrowIfNull(update);
        ArgumentNullException.ThrowIfNull(validlySigned);
        ArgumentOutOfRangeException.ThrowIfLessThan(max, 1);
        if (copies.Any(c => c.Receipt == update.Receipt && c.Model.Parameters.AsSpan().SequenceEqual(update.Model.Parameters)))
        {
            return CopyOutcome.Duplicate;
        }

        if (copies.Count < max)
        {
            copies.Add(update);
            return CopyOutcome.Kept;
        }

        if (validlySigned(update) && copies.FindIndex(c => !validlySigned(c)) is var forged and >= 0)
        {
            copies[forged] = update;
            return CopyOutcome.ReplacedForgery;
        }

        return CopyOutcome.Dropped;
    }
}

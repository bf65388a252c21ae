namespace MetaNode.Federation.SecureAggregation;

/// <summary>
/// The fixed parameters of secure aggregation (those of Flower's SecAgg+ workflow) and the rules that tie the threshold to the group:
/// <c>⌊n/2⌋ + 1 ≤ t ≤ d</c>, with <c>d</c> the neighbourhood size (<see cref="NeighbourhoodSize"/>, a vPod counting itself).
/// </summary>
public static class SecAggParameters
{
    public const double ClippingRange = 8.0;
    public const uint QuantizationRange = 1u << 22;

    /// <summary>Most participants a round can sum without the modulus 2^32 wrapping: <c>1024 · (Q − 1) &lt; 2^32</c>.</summary>
    public const int MaxParticipants = 1024;

    /// <summary>Groups up to this size use the complete graph (every vPod masks with every other): any n − t dropouts are recoverable.</summary>
    public const int CompleteGraphLimit = 40;

    /// <summary>The quantization scale <c>(Q − 1) / (2c)</c>.</summary>
    public const double Scale = (QuantizationRange - 1) / (2 * ClippingRange);

    /// <summary>
    /// How many vPods hold shares of one vPod's secrets, itself included: <c>n</c> up to <see cref="CompleteGraphLimit"/>, else
    /// <c>max(40, ⌊n/2⌋ + 1 + 2·⌈log2 n⌉)</c> (a random Harary graph, SecAgg+), made one larger when its degree <c>d − 1</c> and
    /// <c>n</c> are both odd (a regular graph of odd degree needs an even number of nodes).
    /// </summary>
    public static int NeighbourhoodSize(int participants)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(participants, 1);
        if (participants <= CompleteGraphLimit)
        {
            return participants;
        }

        var log = (int)Math.Ceiling(Math.Log2(participants));
        var d = Math.Min(participants, Math.Max(CompleteGraphLimit, (participants / 2) + 1 + (2 * log)));
        if (d < participants && (d - 1) % 2 == 1 && participants % 2 == 1)
        {
            d++;
        }

        return d;
    }

    /// <summary>The default threshold: a majority of the participants.</summary>
    public static int DefaultThreshold(int participants) => (participants / 2) + 1;

    /// <summary>Why <paramref name="threshold"/> cannot secure a group of <paramref name="participants"/>, or null when it can.</summary>
    public static string? ThresholdProblem(int threshold, int participants)
    {
        if (participants > MaxParticipants)
        {
            return $"secure aggregation sums at most {MaxParticipants} participants (their quantized values must not wrap 2^32); this group has {participants}.";
        }

        if (participants < 2)
        {
            return $"secure aggregation needs at least 2 participants; this group has {participants}.";
        }

        var lowest = DefaultThreshold(participants);
        var highest = NeighbourhoodSize(participants);
        return threshold < lowest || threshold > highest
            ? $"security threshold '{threshold}' is invalid for {participants} participants: use {lowest} (a majority, so two survivor sets cannot both be confirmed) to {highest} (the vPods that hold each one's shares)."
            : null;
    }
}

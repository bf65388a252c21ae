namespace MetaNode.Federation;

/// <summary>
/// SplitMix64 (Steele, Lea and Flood, 2014): the generator of the workload protocol, specified bit for bit so a workload in any
/// language shuffles identically. The state starts at the seed; each draw adds 0x9E3779B97F4A7C15 and mixes.
/// </summary>
public struct SplitMix64(ulong seed)
{
    private ulong _state = seed;

    public ulong Next()
    {
        _state = unchecked(_state + 0x9E3779B97F4A7C15UL);
        var z = _state;
        z = unchecked((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL);
        z = unchecked((z ^ (z >> 27)) * 0x94D049BB133111EBUL);
        return z ^ (z >> 31);
    }

    /// <summary>Fisher–Yates from the last position down: position i swaps with <c>Next() mod (i + 1)</c>.</summary>
    public void Shuffle(int[] values)
    {
        ArgumentNullException.ThrowIfNull(values);
        for (var i = values.Length - 1; i > 0; i--)
        {
            var j = (int)(Next() % (ulong)(i + 1));
            (values[i], values[j]) = (values[j], values[i]);
        }
    }
}

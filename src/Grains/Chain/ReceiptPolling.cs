namespace MetaNode.Grains.Chain;

/// <summary>
/// How long the account waits before it looks for a receipt again: 5 ms after the first look, doubling up to the configured
/// interval. A node that mines at once (a dev chain) is answered within milliseconds rather than a whole interval; a chain with
/// slow blocks costs a handful of extra receipt calls per transaction.
/// </summary>
public static class ReceiptPolling
{
    public static readonly TimeSpan First = TimeSpan.FromMilliseconds(5);

    /// <param name="poll">How many times the receipt was looked for before (0 after the first look).</param>
    public static TimeSpan Delay(int poll, TimeSpan interval)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(poll);
        if (interval <= First)
        {
            return interval;
        }

        var ticks = poll >= 30 ? long.MaxValue : First.Ticks << poll;
        return ticks >= interval.Ticks ? interval : TimeSpan.FromTicks(ticks);
    }
}

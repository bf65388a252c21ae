namespace MetaNode.Grains.Runtime.Process;

/// <summary>Waits for a task at most a given time.</summary>
internal static class BoundedWait
{
    /// <summary>True when <paramref name="task"/> completed within <paramref name="timeout"/>, false when the time ran out first.</summary>
    public static async Task<bool> WaitAsync(Task task, TimeSpan timeout, CancellationToken cancellationToken)
    {
        try
        {
            await task.WaitAsync(timeout, cancellationToken).ConfigureAwait(false);
            return true;
        }
        catch (TimeoutException)
        {
            return false;
        }
    }
}

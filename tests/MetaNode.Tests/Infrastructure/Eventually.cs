using System.Diagnostics;

namespace MetaNode.Tests.Infrastructure;

/// <summary>Waits for a condition instead of sleeping; the failure message names what was awaited and the last value seen.</summary>
public static class Eventually
{
    public static async Task<T> WaitAsync<T>(Func<Task<T>> probe, Func<T, bool> condition, string what, TimeSpan? timeout = null)
    {
        var limit = timeout ?? TimeSpan.FromSeconds(30);
        var watch = Stopwatch.StartNew();
        T last = default!;
        Exception? lastError = null;
        var delay = TimeSpan.FromMilliseconds(20);
        while (watch.Elapsed < limit)
        {
            try
            {
                last = await probe();
                lastError = null;
                if (condition(last))
                {
                    return last;
                }
            }
            catch (Exception exception)
            {
                lastError = exception;
            }

            await Task.Delay(delay);
            delay = TimeSpan.FromMilliseconds(Math.Min(delay.TotalMilliseconds * 2, 250));
        }

        throw new TimeoutException($"Timed out after {limit.TotalSeconds:0.#}s waiting for {what}; last value: {last}{(lastError is null ? string.Empty : $"; last error: {lastError.Message}")}");
    }
}

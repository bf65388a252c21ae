using MetaNode.Tests.Infrastructure;

namespace MetaNode.Tests.Persistence;

/// <summary>Waits for a condition instead of sleeping (see <see cref="Eventually"/>).</summary>
internal static class Await
{
    public static Task UntilAsync(Func<Task<bool>> condition, TimeSpan timeout, string what) =>
        Eventually.WaitAsync(condition, ok => ok, what, timeout);
}

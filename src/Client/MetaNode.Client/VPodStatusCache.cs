using System.Collections.Concurrent;
using MetaNode.VPods;

namespace MetaNode.Client;

/// <summary>
/// The last status this client was sent for each vPod, under the tag its silo gave it. Asking again sends the tag, and while
/// the status is unchanged the answer is a null rather than the whole status: a few bytes instead of the spec and the
/// transitions. Every answer is still the vPod's status at the time of the call. Holds at most <see cref="Capacity"/> vPods,
/// then starts over.
/// </summary>
internal sealed class VPodStatusCache(int capacity = VPodStatusCache.DefaultCapacity)
{
    public const int DefaultCapacity = 4_096;

    private readonly ConcurrentDictionary<string, TaggedVPodStatus> _entries = new(StringComparer.Ordinal);

    public int Capacity { get; } = capacity > 0 ? capacity : throw new ArgumentOutOfRangeException(nameof(capacity), capacity, "The capacity must be positive.");

    public int Count => _entries.Count;

    /// <summary>The status of vPod <paramref name="id"/> through <paramref name="grain"/>; the returned status is shared with other callers (it is immutable).</summary>
    public async Task<VPodStatus> GetAsync(string id, IVPodGrain grain, CancellationToken cancellationToken)
    {
        // The entry whose tag is sent is the one returned when the answer is "unchanged", whatever other calls store meanwhile.
        var known = _entries.TryGetValue(id, out var entry) ? entry : null;
        TaggedVPodStatus? answer;
        try
        {
            answer = await grain.GetStatusIfChangedAsync(known?.Tag ?? Guid.Empty, cancellationToken).ConfigureAwait(false);
        }
        catch (VPodNotFoundException)
        {
            _entries.TryRemove(id, out _);
            throw;
        }

        if (answer is null)
        {
            return known?.Status ?? throw new InvalidOperationException($"The silo answered that the status of {id} is unchanged, but this client holds none.");
        }

        if (_entries.Count >= Capacity && !_entries.ContainsKey(id))
        {
            _entries.Clear();
        }

        _entries[id] = answer;
        return answer.Status;
    }
}

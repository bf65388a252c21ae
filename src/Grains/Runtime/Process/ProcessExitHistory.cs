using System.Collections.Concurrent;

namespace MetaNode.Grains.Runtime.Process;

/// <summary>How the last few processes of each vPod ended, so a handle to one of them can still be answered after it is gone.</summary>
internal sealed class ProcessExitHistory
{
    private const int MaxExitsPerVPod = 8;

    private readonly ConcurrentDictionary<string, List<ExitRecord>> _exits = new(StringComparer.Ordinal);

    public void Record(ManagedProcess managed, int exitCode)
    {
        var history = _exits.GetOrAdd(managed.VPodId, static _ => []);
        lock (history)
        {
            history.Add(new ExitRecord(managed.Pid, managed.StartMarker, exitCode, managed.OomKilled));
            if (history.Count > MaxExitsPerVPod)
            {
                history.RemoveAt(0);
            }
        }
    }

    /// <summary>The latest recorded exit of the vPod's process <paramref name="pid"/> that started at <paramref name="startMarker"/>.</summary>
    public ExitRecord? Find(string vpodId, int pid, long startMarker)
    {
        if (!_exits.TryGetValue(vpodId, out var history))
        {
            return null;
        }

        lock (history)
        {
            return history.FindLast(e => e.Pid == pid && e.StartMarker == startMarker);
        }
    }

    public void Forget(string vpodId) => _exits.TryRemove(vpodId, out _);
}

/// <summary>How an earlier process of a vPod ended, kept so a handle to it can still be answered.</summary>
internal sealed record ExitRecord(int Pid, long StartMarker, int ExitCode, bool OomKilled = false);

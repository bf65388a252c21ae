namespace MetaNode.Federation.SecureAggregation;

/// <summary>
/// Who masks with whom and holds whose shares in a round: the complete graph for small groups, else a Harary graph of degree
/// <c>d − 1</c> laid on a circle in an order shuffled from the job's seed and the round (SecAgg+). Participants are the job's
/// compute vPods in ordinal order; a vPod's neighbourhood includes itself.
/// </summary>
public sealed class NeighbourGraph
{
    private readonly Dictionary<string, int> _position;
    private readonly int _half;
    private readonly bool _opposite;

    public NeighbourGraph(IReadOnlyList<string> participants, ulong jobSeed, int round)
    {
        ArgumentNullException.ThrowIfNull(participants);
        Participants = participants.Order(StringComparer.Ordinal).ToArray();
        Size = SecAggParameters.NeighbourhoodSize(Participants.Count);
        Index = Participants.Select((id, i) => (id, i)).ToDictionary(p => p.id, p => p.i, StringComparer.Ordinal);
        var order = Enumerable.Range(0, Participants.Count).ToArray();
        if (Size < Participants.Count)
        {
            new SplitMix64(FederatedSeeds.Derive(jobSeed, "secagg-graph", round)).Shuffle(order);
        }

        _position = new Dictionary<string, int>(StringComparer.Ordinal);
        for (var p = 0; p < order.Length; p++)
        {
            _position[Participants[order[p]]] = p;
        }

        _half = (Size - 1) / 2;
        _opposite = (Size - 1) % 2 == 1;
    }

    /// <summary>The job's compute vPods, ordinal order.</summary>
    public IReadOnlyList<string> Participants { get; }

    /// <summary>vPod → its 0-based place in <see cref="Participants"/>; its Shamir x-coordinate is this plus one.</summary>
    public IReadOnlyDictionary<string, int> Index { get; }

    /// <summary>The neighbourhood size d (itself included).</summary>
    public int Size { get; }

    public bool Contains(string vpodId) => Index.ContainsKey(vpodId);

    public bool AreNeighbours(string a, string b)
    {
        if (!_position.TryGetValue(a, out var pa) || !_position.TryGetValue(b, out var pb))
        {
            return false;
        }

        if (Size == Participants.Count || pa == pb)
        {
            return true;
        }

        var n = Participants.Count;
        var gap = ((pa - pb) % n + n) % n;
        return (gap >= 1 && gap <= _half) || (gap >= n - _half && gap <= n - 1) || (_opposite && n % 2 == 0 && gap == n / 2);
    }

    /// <summary>The vPod's neighbourhood (itself included), ordinal order.</summary>
    public IReadOnlyList<string> Neighbourhood(string vpodId) => Participants.Where(p => AreNeighbours(vpodId, p)).ToList();
}

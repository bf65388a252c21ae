using System.Diagnostics;

namespace MetaNode.Grains.Hosting;

/// <summary>
/// MetaNode's spans (source <see cref="SourceName"/>). A federated round is one trace: the job starts a root span per round and
/// each of its stages is a child of it; the grain calls a stage makes carry the trace (Orleans' activity propagation), so the
/// compute vPods' training calls, the validators' aggregation and the chain finalization land in the same trace.
/// </summary>
public static class MetaNodeTracing
{
    public const string SourceName = "MetaNode";

    /// <summary>Span names start with this: the silo's sampler starts traces only for them, and keeps the grain calls inside them.</summary>
    public const string SpanPrefix = "metanode.";

    public static readonly ActivitySource Source = new(SourceName);

    /// <summary>
    /// A new root span (no parent, whatever is current), left not current: it is ended later, in another turn, and the stages
    /// started under it are what runs.
    /// </summary>
    public static Activity? StartRoot(string name, params (string Key, object? Value)[] tags)
    {
        var previous = Activity.Current;
        Activity.Current = null;
        var activity = Source.StartActivity(name, ActivityKind.Internal, parentContext: default);
        foreach (var (key, value) in tags)
        {
            activity?.SetTag(key, value);
        }

        Activity.Current = previous;
        return activity;
    }

    /// <summary>A span under <paramref name="parent"/> (current until disposed).</summary>
    public static Activity? StartChild(string name, ActivityContext parent, ActivityKind kind = ActivityKind.Internal) =>
        Source.StartActivity(name, kind, parent);

    /// <summary>A span under whatever is current (an incoming grain call carrying a round's trace).</summary>
    public static Activity? Start(string name, ActivityKind kind = ActivityKind.Internal) => Source.StartActivity(name, kind);
}

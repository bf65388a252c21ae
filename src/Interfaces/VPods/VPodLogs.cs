namespace MetaNode.VPods;

[GenerateSerializer, Alias("MetaNode.VPods.LogStream")]
public enum LogStream
{
    None = 0,
    Stdout = 1,
    Stderr = 2,
}

/// <summary>One line of a vPod's output, stamped when the runtime captured it.</summary>
[GenerateSerializer, Immutable, Alias("MetaNode.VPods.LogLine")]
public sealed record LogLine(
    [property: Id(0)] DateTimeOffset Timestamp,
    [property: Id(1)] LogStream Stream,
    [property: Id(2)] string Text);

/// <summary>Which lines to read: the last <see cref="Tail"/> lines, only those at or after <see cref="Since"/>.</summary>
[GenerateSerializer, Immutable, Alias("MetaNode.VPods.LogQuery")]
public sealed record LogQuery(
    [property: Id(0)] int? Tail = null,
    [property: Id(1)] DateTimeOffset? Since = null);

/// <summary>The bound on a log query: no query makes a silo hold more than <see cref="MaxTail"/> lines.</summary>
public static class LogQueries
{
    /// <summary>The most lines one query returns (and the initial lines a follow sends).</summary>
    public const int MaxTail = 10_000;

    /// <summary>Why <paramref name="query"/> is refused, or null.</summary>
    public static string? Problem(LogQuery query)
    {
        ArgumentNullException.ThrowIfNull(query);
        return query.Tail switch
        {
            < 0 => $"tail '{query.Tail}' is invalid: use 0 to {MaxTail} lines.",
            > MaxTail => $"tail '{query.Tail}' is more than the {MaxTail} lines a log query returns: ask for at most {MaxTail} (and use since to go further back).",
            _ => null,
        };
    }

    /// <summary>The query as it is run: refused when <see cref="Problem"/> says so; no tail means the last <see cref="MaxTail"/> lines.</summary>
    public static LogQuery Bounded(LogQuery query) =>
        Problem(query) is { } problem ? throw new ArgumentOutOfRangeException(nameof(query), problem)
        : query.Tail is null ? query with { Tail = MaxTail }
        : query;
}

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

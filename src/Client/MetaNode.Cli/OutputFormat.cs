namespace MetaNode.Cli;

/// <summary><c>--output</c>: tables for people, JSON for scripts.</summary>
public enum OutputFormat
{
    Table = 0,
    Json = 1,
}

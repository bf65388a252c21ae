namespace MetaNode.Cli;

/// <summary>The process exit codes of <c>metanode-cli</c>.</summary>
public static class ExitCodes
{
    public const int Success = 0;

    /// <summary>The operation failed: unknown vPod, operation not allowed in its phase, cluster unreachable.</summary>
    public const int OperationFailed = 1;

    /// <summary>The command line was wrong: unknown or missing option, bad size, bad id.</summary>
    public const int UsageError = 2;

    /// <summary>Interrupted (Ctrl-C) before the operation finished.</summary>
    public const int Cancelled = 130;
}

namespace MetaNode.Cli;

/// <summary>A flag or its value is wrong; the message names the flag. Exit code <see cref="ExitCodes.UsageError"/>.</summary>
public sealed class CliUsageException : Exception
{
    public CliUsageException(string message)
        : base(message)
    {
    }

    public CliUsageException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}

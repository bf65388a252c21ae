namespace MetaNode.Client;

/// <summary>The client could not reach the cluster; the message names the gateways or database it tried.</summary>
public sealed class MetaNodeConnectionException : Exception
{
    public MetaNodeConnectionException(string message)
        : base(message)
    {
    }

    public MetaNodeConnectionException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}

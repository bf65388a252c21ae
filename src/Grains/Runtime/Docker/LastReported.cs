using Docker.DotNet.Models;

namespace MetaNode.Grains.Runtime.Docker;

/// <summary>Keeps what the engine reported, synchronously (<see cref="Progress{T}"/> would post it to the thread pool after the call returned).</summary>
internal sealed class LastReported<T> : IProgress<T>
{
    public T? Value { get; private set; }

    /// <summary>The last error the engine reported in a progress message, if any.</summary>
    public string? Error { get; private set; }

    public void Report(T value)
    {
        Value = value;
        if (value is JSONMessage { ErrorMessage: { Length: > 0 } error })
        {
            Error = error;
        }
        else if (value is JSONMessage { Error.Message: { Length: > 0 } detail })
        {
            Error = detail;
        }
    }
}

namespace MetaNode.Federation;

/// <summary>A data set could not be read; the message names the file, line and column.</summary>
[GenerateSerializer, Alias("MetaNode.Federation.InvalidDatasetException")]
public sealed class InvalidDatasetException : Exception
{
    public InvalidDatasetException(string message)
        : base(message)
    {
    }
}

/// <summary>A federated job specification was rejected; the message lists every problem, each naming the option and the bad value.</summary>
[GenerateSerializer, Alias("MetaNode.Federation.InvalidJobSpecException")]
public sealed class InvalidJobSpecException : Exception
{
    public InvalidJobSpecException(IReadOnlyList<string> errors)
        : base("Invalid federated job: " + string.Join(" ", errors ?? []))
    {
        Errors = errors ?? [];
    }

    [Id(0)] public IReadOnlyList<string> Errors { get; }
}

/// <summary>A workload answered a protocol request with an error (or not at all); the message names the vPod endpoint, the path and the workload's error.</summary>
[GenerateSerializer, Alias("MetaNode.Federation.WorkloadRequestException")]
public sealed class WorkloadRequestException : Exception
{
    public WorkloadRequestException(string endpoint, string path, int statusCode, string error)
        : base($"Workload {endpoint}{path} answered {statusCode}: {error}")
    {
        Endpoint = endpoint;
        Path = path;
        StatusCode = statusCode;
        Error = error;
    }

    [Id(0)] public string Endpoint { get; }
    [Id(1)] public string Path { get; }
    /// <summary>The HTTP status, or 0 when no answer came (connection refused, timeout).</summary>
    [Id(2)] public int StatusCode { get; }
    [Id(3)] public string Error { get; }
}

namespace MetaNode.VPods;

/// <summary>An operation was asked for in a phase that does not allow it; nothing changed.</summary>
[GenerateSerializer, Alias("MetaNode.VPods.InvalidVPodOperationException")]
public sealed class InvalidVPodOperationException : Exception
{
    public InvalidVPodOperationException(string vpodId, VPodTrigger operation, VPodPhase phase)
        : base($"vPod '{vpodId}' cannot {operation.ToString().ToLowerInvariant()} while {phase}.")
    {
        VPodId = vpodId;
        Operation = operation;
        Phase = phase;
    }

    /// <summary>An operation that is no state-machine trigger (e.g. writing data files), refused with its own explanation.</summary>
    public InvalidVPodOperationException(string vpodId, VPodPhase phase, string message)
        : base(message)
    {
        VPodId = vpodId;
        Operation = VPodTrigger.None;
        Phase = phase;
    }

    [Id(0)] public string VPodId { get; }
    [Id(1)] public VPodTrigger Operation { get; }
    [Id(2)] public VPodPhase Phase { get; }
}

/// <summary>No vPod with this id was ever created (or its record is gone).</summary>
[GenerateSerializer, Alias("MetaNode.VPods.VPodNotFoundException")]
public sealed class VPodNotFoundException : Exception
{
    public VPodNotFoundException(string vpodId)
        : base($"vPod '{vpodId}' does not exist.")
    {
        VPodId = vpodId;
    }

    [Id(0)] public string VPodId { get; }
}

/// <summary>A vPod specification was rejected; the message names the field and the bad value.</summary>
[GenerateSerializer, Alias("MetaNode.VPods.InvalidVPodSpecException")]
public sealed class InvalidVPodSpecException : Exception
{
    public InvalidVPodSpecException(string message)
        : base(message)
    {
    }
}

/// <summary>Data files for a vPod were refused (a bad name, too many bytes); nothing was written.</summary>
[GenerateSerializer, Alias("MetaNode.VPods.InvalidVPodDataException")]
public sealed class InvalidVPodDataException : Exception
{
    public InvalidVPodDataException(string message)
        : base(message)
    {
    }
}

/// <summary>A vPod's workload did not prove the key it should hold, or the address to admit is not the one it proved; nothing changed.</summary>
[GenerateSerializer, Alias("MetaNode.VPods.VPodIdentityException")]
public sealed class VPodIdentityException : Exception
{
    public VPodIdentityException(string vpodId, string message)
        : base(message)
    {
        VPodId = vpodId;
    }

    [Id(0)] public string VPodId { get; }
}

namespace MetaNode.Client;

/// <summary>A lifecycle operation on an existing vPod.</summary>
public enum VPodAction
{
    Start = 1,
    Stop = 2,
    Restart = 3,
    Delete = 4,
}

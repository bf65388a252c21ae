namespace MetaNode.Workload;

/// <summary>A request the workload cannot act on; answered with 400 and the message.</summary>
public sealed class InvalidWorkloadRequestException(string message) : Exception(message);

/// <summary>A request that conflicts with the vPod's state (its data, what it signed before, the proofs it was given); answered with 409 and the message.</summary>
public sealed class WorkloadConflictException(string message) : Exception(message);

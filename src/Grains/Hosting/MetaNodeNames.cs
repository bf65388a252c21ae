namespace MetaNode.Grains.Hosting;

/// <summary>Names that persisted state and configuration depend on: change none of them without a migration.</summary>
public static class MetaNodeNames
{
    /// <summary>Grain storage holding vPod records and the vPod registry.</summary>
    public const string VPodStorage = "vpods";

    /// <summary>Grain storage of chain accounts, the chain grain and the watcher's checkpoint (the silo's default provider).</summary>
    public const string ChainStorage = "Default";

    /// <summary>Named <see cref="HttpClient"/> used to talk to workloads.</summary>
    public const string WorkloadHttpClient = "metanode-workload";

    /// <summary>The silo's stream provider (chain events, leader changes, federated updates).</summary>
    public const string StreamProvider = "metanode";

    /// <summary>Grain storage for stream subscriptions (the name Orleans looks up).</summary>
    public const string PubSubStorage = "PubSubStore";
}

using MetaNode.VPods;

namespace MetaNode.Clusters;

/// <summary>Checks a <see cref="ClusterSpec"/> and its quota; every message names the field and the bad value.</summary>
public static class ClusterSpecValidation
{
    public const int MaxNameLength = VPodNames.MaxClusterNameLength;
    public const int MaxCount = 500;

    /// <summary>How many copies of each block a storage cluster keeps unless its spec says otherwise.</summary>
    public const int DefaultReplication = 3;

    /// <summary>The copies a storage cluster of <paramref name="members"/> keeps of each block: its replication factor, at most one per member.</summary>
    public static int EffectiveReplication(ClusterSpec spec, int members)
    {
        ArgumentNullException.ThrowIfNull(spec);
        return Math.Max(1, Math.Min(spec.Replication ?? DefaultReplication, members));
    }

    /// <summary>The member vPod id of a cluster ordinal: <c>vpod-{cluster}-{ordinal}</c>.</summary>
    public static string MemberId(string cluster, int ordinal) => $"vpod-{cluster}-{ordinal}";

    /// <summary>The member vPod name of a cluster ordinal: <c>{cluster}-{ordinal}</c>.</summary>
    public static string MemberName(string cluster, int ordinal) => $"{cluster}-{ordinal}";

    public static bool IsValidName(string? name) => VPodNames.IsClusterName(name);

    /// <summary>Every problem with <paramref name="spec"/>; empty when it is valid.</summary>
    public static IReadOnlyList<string> Validate(ClusterSpec spec)
    {
        ArgumentNullException.ThrowIfNull(spec);
        var errors = new List<string>();
        if (!IsValidName(spec.Name))
        {
            errors.Add($"name '{spec.Name}' is invalid: use 1-{MaxNameLength} lower-case letters, digits or '-', starting and ending with a letter or digit.");
        }

        if (spec.Count is < 1 or > MaxCount)
        {
            errors.Add($"count '{spec.Count}' is invalid: use 1-{MaxCount}.");
        }

        if (!Enum.IsDefined(spec.Algorithm) || spec.Algorithm == AggregationAlgorithm.None)
        {
            errors.Add($"algorithm '{spec.Algorithm}' is invalid: use federated-average or secure-aggregation.");
        }

        if (spec.SecurityThreshold is { } threshold)
        {
            if (spec.Algorithm != AggregationAlgorithm.SecureAggregation)
            {
                errors.Add($"security threshold '{threshold}' applies only to secure-aggregation, not to {spec.Algorithm}.");
            }
            else if (spec.Count >= 1 && MetaNode.Federation.SecureAggregation.SecAggParameters.ThresholdProblem(threshold, spec.Count) is { } problem)
            {
                errors.Add(problem);
            }
        }

        if (spec.Replication is { } replication)
        {
            if (spec.MemberType != VPodType.Storage)
            {
                errors.Add($"replication '{replication}' applies only to storage clusters (--type storage), not to {spec.MemberType}.");
            }
            else if (replication < 1 || replication > spec.Count)
            {
                errors.Add($"replication '{replication}' is invalid: use 1 to the member count ({spec.Count}).");
            }
        }

        if (spec.EncryptionEnabled && spec.Algorithm != AggregationAlgorithm.SecureAggregation)
        {
            errors.Add("encryption is not available with federated-average: validators read each update; deploy with --algorithm secure-aggregation, whose shares are always sealed end to end and whose updates travel masked.");
        }

        if (spec.Quota is { } quota)
        {
            if (quota.CpuMillis is <= 0)
            {
                errors.Add($"quota cpu '{quota.CpuMillis}m' is invalid: it must be positive.");
            }

            if (quota.MemoryBytes is <= 0)
            {
                errors.Add($"quota memory '{quota.MemoryBytes}' bytes is invalid: it must be positive.");
            }

            if (quota.MaxMembers is <= 0)
            {
                errors.Add($"quota max members '{quota.MaxMembers}' is invalid: it must be positive.");
            }
        }

        if (IsValidName(spec.Name))
        {
            errors.AddRange(VPodSpecValidation.Validate(MemberSpec(spec, 0)).Select(e => "member " + e));
        }

        return errors;
    }

    /// <summary>Throws <see cref="InvalidClusterSpecException"/> listing every problem.</summary>
    public static void ThrowIfInvalid(ClusterSpec spec)
    {
        var errors = Validate(spec);
        if (errors.Count > 0)
        {
            throw new InvalidClusterSpecException("Invalid cluster spec: " + string.Join(" ", errors));
        }
    }

    /// <summary>Why <paramref name="count"/> members of <paramref name="spec"/> exceed its quota, or null when they do not.</summary>
    public static string? CheckQuota(ClusterSpec spec, int count)
    {
        ArgumentNullException.ThrowIfNull(spec);
        if (spec.Quota is not { } quota)
        {
            return null;
        }

        var problems = new List<string>();
        if (quota.MaxMembers is { } max && count > max)
        {
            problems.Add($"{count} members requested, at most {max} allowed");
        }

        if (quota.CpuMillis is { } cpu && count * spec.CpuMillis > cpu)
        {
            problems.Add($"{count} x cpu {ResourceQuantity.FormatCpu(spec.CpuMillis)} = {ResourceQuantity.FormatCpu(count * spec.CpuMillis)} exceeds the cpu quota {ResourceQuantity.FormatCpu(cpu)}");
        }

        if (quota.MemoryBytes is { } memory && count * spec.MemoryBytes > memory)
        {
            problems.Add($"{count} x memory {ResourceQuantity.FormatMemory(spec.MemoryBytes)} = {ResourceQuantity.FormatMemory(count * spec.MemoryBytes)} exceeds the memory quota {ResourceQuantity.FormatMemory(memory)}");
        }

        return problems.Count == 0 ? null : string.Join("; ", problems) + ".";
    }

    /// <summary>The vPod spec of member <paramref name="ordinal"/>: the cluster's deployment options, its name, labels and environment.</summary>
    public static VPodSpec MemberSpec(ClusterSpec spec, int ordinal)
    {
        ArgumentNullException.ThrowIfNull(spec);
        var env = new Dictionary<string, string>(spec.Env)
        {
            ["METANODE_CLUSTER"] = spec.Name,
            ["METANODE_MEMBER_ORDINAL"] = ordinal.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["METANODE_ALGORITHM"] = spec.Algorithm == AggregationAlgorithm.SecureAggregation ? "secure-aggregation" : "federated-average",
            ["METANODE_ENCRYPTION"] = spec.EncryptionEnabled ? "true" : "false",
        };
        if (spec.SecurityThreshold is { } threshold)
        {
            env["METANODE_SECURITY_THRESHOLD"] = threshold.ToString(System.Globalization.CultureInfo.InvariantCulture);
        }

        return new VPodSpec
        {
            Name = MemberName(spec.Name, ordinal),
            Type = spec.MemberType,
            DeploymentMethod = spec.DeploymentMethod,
            Image = spec.Image,
            Command = spec.Command.ToArray(),
            Ports = spec.Ports.ToArray(),
            CpuMillis = spec.CpuMillis,
            MemoryBytes = spec.MemoryBytes,
            Env = env,
            Labels = new Dictionary<string, string> { ["metanode.cluster"] = spec.Name },
            RestartPolicy = spec.RestartPolicy,
            Replicas = spec.Replicas,
            HighAvailability = spec.HighAvailability,
            PersistentStorage = spec.PersistentStorage,
            NetworkPolicy = spec.NetworkPolicy,
            Cluster = spec.Name,
        };
    }
}

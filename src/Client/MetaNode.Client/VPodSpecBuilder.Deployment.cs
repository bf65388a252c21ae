using System.Globalization;
using MetaNode.VPods;

namespace MetaNode.Client;

/// <summary>Where and how the vPod is deployed: mounts, storage, labels, pull secrets, replicas, network policy and cluster.</summary>
public sealed partial class VPodSpecBuilder
{
    /// <summary><c>SOURCE:TARGET</c> or <c>SOURCE:TARGET:ro</c> (or <c>:rw</c>); the target is an absolute path.</summary>
    public VPodSpecBuilder AddVolume(string? volume)
    {
        var parts = (volume ?? string.Empty).Split(':');
        if (parts.Length is < 2 or > 3 || parts.Any(p => p.Trim().Length == 0))
        {
            Fail(Flags.Volume, volume, "use SOURCE:TARGET or SOURCE:TARGET:ro");
            return this;
        }

        var source = parts[0].Trim();
        var target = parts[1].Trim();
        var readOnly = false;
        if (parts.Length == 3)
        {
            switch (parts[2].Trim().ToLowerInvariant())
            {
                case "ro": readOnly = true; break;
                case "rw": readOnly = false; break;
                default:
                    Fail(Flags.Volume, volume, $"the mode '{parts[2]}' must be ro or rw");
                    return this;
            }
        }

        if (!target.StartsWith('/'))
        {
            Fail(Flags.Volume, volume, $"the target '{target}' must be an absolute path");
        }
        else if (_volumes.Any(v => string.Equals(v.Target, target, StringComparison.Ordinal)))
        {
            Fail(Flags.Volume, volume, $"the target '{target}' is mounted more than once");
        }
        else
        {
            _volumes.Add(new VolumeMount(source, target, readOnly));
        }

        return this;
    }

    /// <summary><c>key=value</c>: a label as <see cref="VPodLabels"/> accepts it (Kubernetes syntax, no reserved prefix).</summary>
    public VPodSpecBuilder AddLabel(string? label)
    {
        if (!VPodNames.TrySplitPair(label, out var key, out var value))
        {
            Fail(Flags.Label, label, "use key=value");
        }
        else if (VPodLabels.Problem(key, value) is { } problem)
        {
            Fail(Flags.Label, label, problem.TrimEnd('.'));
        }
        else if (!_labels.TryAdd(key, value))
        {
            Fail(Flags.Label, label, $"'{key}' is given more than once");
        }

        return this;
    }

    /// <summary>The name of registry credentials to pull the image with (docker: a configured registry; kubernetes: a Secret).</summary>
    public VPodSpecBuilder AddPullSecret(string? secret)
    {
        var value = secret?.Trim() ?? string.Empty;
        if (!VPodNames.IsName(value))
        {
            Fail(Flags.PullSecret, secret, "use a lower-case DNS name (letters, digits, '-' and '.')");
        }
        else if (_pullSecrets.Contains(value))
        {
            Fail(Flags.PullSecret, secret, "the secret is given more than once");
        }
        else
        {
            _pullSecrets.Add(value);
        }

        return this;
    }

    /// <summary>Workload replicas, 1 to 100 (kubernetes; other runtimes run one).</summary>
    public VPodSpecBuilder WithReplicas(string? replicas)
    {
        if (!int.TryParse(replicas?.Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out var count) || count is < 1 or > MaxReplicas)
        {
            Fail(Flags.Replicas, replicas, $"use a number from 1 to {MaxReplicas}");
        }
        else
        {
            _replicas = count;
        }

        return this;
    }

    public VPodSpecBuilder WithHighAvailability(bool highAvailability = true)
    {
        _highAvailability = highAvailability;
        return this;
    }

    /// <summary><c>SIZE</c> or <c>SIZE:CLASS</c>: persistent storage of that size (<c>10Gi</c>), from that storage class (docker: volume driver).</summary>
    public VPodSpecBuilder WithStorage(string? storage)
    {
        var parts = (storage ?? string.Empty).Split(':');
        if (parts.Length > 2 || !ResourceQuantity.TryParseMemory(parts[0], out var bytes, out _) || bytes < VPodSpecValidation.MinimumMemoryBytes)
        {
            Fail(Flags.Storage, storage, "use SIZE or SIZE:CLASS with a size of at least 4Mi (e.g. 10Gi or 10Gi:fast-ssd)");
            return this;
        }

        var storageClass = parts.Length == 2 ? parts[1].Trim() : null;
        if (storageClass is not null && !VPodNames.IsName(storageClass))
        {
            Fail(Flags.Storage, storage, $"the storage class '{storageClass}' must be a lower-case DNS name");
            return this;
        }

        _storageBytes = bytes;
        _storageClass = storageClass;
        return this;
    }

    /// <summary>Where persistent storage is mounted in the workload (default <c>/vpod/data</c>).</summary>
    public VPodSpecBuilder WithStorageMount(string? path)
    {
        var value = path?.Trim() ?? string.Empty;
        if (!VPodNames.IsAbsolutePath(value))
        {
            Fail(Flags.StorageMount, path, "use an absolute path without spaces");
        }
        else
        {
            _storageMount = value;
        }

        return this;
    }

    /// <summary>
    /// One network-policy rule: <c>deny-all</c> (a policy with no rules), <c>ingress:KEY=VALUE[,KEY=VALUE]</c> (pods carrying all
    /// these labels may connect in) or <c>egress:CIDR[:PORT]</c> / <c>egress:IP[:PORT]</c> (where the workload may connect out;
    /// network policies match addresses, not host names). Any rule turns the policy on; the runtime must be kubernetes.
    /// </summary>
    public VPodSpecBuilder AddNetworkPolicy(string? rule)
    {
        var value = rule?.Trim() ?? string.Empty;
        if (value == NetworkPolicyRules.DenyAll)
        {
            _networkPolicy = true;
        }
        else if (value.StartsWith(NetworkPolicyRules.IngressPrefix, StringComparison.Ordinal))
        {
            var selector = value[NetworkPolicyRules.IngressPrefix.Length..];
            if (!NetworkPolicyRules.IsSelector(selector))
            {
                Fail(Flags.NetworkPolicy, rule, "an ingress rule is a label selector with distinct keys: ingress:KEY=VALUE[,KEY=VALUE]");
            }
            else if (_ingressFrom.Contains(selector))
            {
                Fail(Flags.NetworkPolicy, rule, "the rule is given more than once");
            }
            else
            {
                _networkPolicy = true;
                _ingressFrom.Add(selector);
            }
        }
        else if (value.StartsWith(NetworkPolicyRules.EgressPrefix, StringComparison.Ordinal))
        {
            var target = value[NetworkPolicyRules.EgressPrefix.Length..];
            if (!NetworkPolicyRules.IsEgressTarget(target))
            {
                Fail(Flags.NetworkPolicy, rule, "an egress rule is a CIDR or an IP address, optionally with :PORT (egress:10.0.0.0/8, egress:192.0.2.10:8545); network policies cannot match host names");
            }
            else if (_egressTo.Contains(target))
            {
                Fail(Flags.NetworkPolicy, rule, "the rule is given more than once");
            }
            else
            {
                _networkPolicy = true;
                _egressTo.Add(target);
            }
        }
        else
        {
            Fail(Flags.NetworkPolicy, rule, "use deny-all, ingress:KEY=VALUE[,KEY=VALUE] or egress:CIDR|IP[:PORT]");
        }

        return this;
    }

    /// <summary>The vPod cluster the vPod belongs to.</summary>
    public VPodSpecBuilder WithCluster(string? cluster)
    {
        var value = cluster?.Trim() ?? string.Empty;
        if (!VPodNames.IsClusterName(value))
        {
            Fail(Flags.Cluster, cluster, $"use 1-{VPodNames.MaxClusterNameLength} lower-case letters, digits or '-', starting and ending with a letter or digit");
        }
        else
        {
            _cluster = value;
        }

        return this;
    }
}

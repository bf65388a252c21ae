namespace MetaNode.VPods;

/// <summary>Checks a <see cref="VPodSpec"/>; every message names the field and the bad value.</summary>
public static class VPodSpecValidation
{
    public const long MinimumMemoryBytes = 4L * 1024 * 1024;

    /// <summary>Every problem with <paramref name="spec"/>; empty when it is valid.</summary>
    public static IReadOnlyList<string> Validate(VPodSpec spec)
    {
        ArgumentNullException.ThrowIfNull(spec);
        var errors = new List<string>();
        if (!VPodNames.IsName(spec.Name))
        {
            errors.Add($"name '{spec.Name}' is invalid: use 1-63 lower-case letters, digits, '-' or '.', starting and ending with a letter or digit.");
        }

        if (!Enum.IsDefined(spec.Type) || spec.Type == VPodType.None)
        {
            errors.Add($"type '{spec.Type}' is invalid: use compute, validator, storage or orchestrator.");
        }

        if (!Enum.IsDefined(spec.DeploymentMethod) || spec.DeploymentMethod == DeploymentMethod.None)
        {
            errors.Add($"deployment method '{spec.DeploymentMethod}' is invalid: use process, docker or kubernetes.");
        }

        if (!Enum.IsDefined(spec.RestartPolicy) || spec.RestartPolicy == RestartPolicy.None)
        {
            errors.Add($"restart policy '{spec.RestartPolicy}' is invalid: use never, on-failure or always.");
        }

        if (spec.CpuMillis <= 0)
        {
            errors.Add($"cpu '{spec.CpuMillis}m' is invalid: it must be positive.");
        }

        if (spec.MemoryBytes < MinimumMemoryBytes)
        {
            errors.Add($"memory '{spec.MemoryBytes}' bytes is invalid: at least 4Mi.");
        }

        var seen = new HashSet<int>();
        foreach (var port in spec.Ports)
        {
            if (port == 0)
            {
                // 0 asks for a free loopback port at create; only the process runtime can honour that.
                if (spec.DeploymentMethod != DeploymentMethod.Process)
                {
                    errors.Add($"port '0' (assign a free port) is only supported for process vPods, not {spec.DeploymentMethod}.");
                }
            }
            else if (port is < 1 or > 65535)
            {
                errors.Add($"port '{port}' is invalid: use 0 (assign a free port, process vPods only) or 1-65535.");
            }
            else if (!seen.Add(port))
            {
                errors.Add($"port '{port}' is given twice.");
            }
        }

        if (spec.Image is not null && !VPodNames.IsImage(spec.Image))
        {
            errors.Add($"image '{spec.Image}' is invalid: give an image reference (e.g. registry/name:tag) or a program path without spaces.");
        }

        foreach (var key in spec.Env.Keys)
        {
            if (!VPodNames.IsEnvName(key))
            {
                errors.Add($"env name '{key}' is invalid: use letters, digits and '_', not starting with a digit.");
            }
        }

        foreach (var volume in spec.Volumes)
        {
            if (string.IsNullOrWhiteSpace(volume.Source))
            {
                errors.Add($"volume '{volume.Source}:{volume.Target}' has no source.");
            }

            if (!volume.Target.StartsWith('/'))
            {
                errors.Add($"volume '{volume.Source}:{volume.Target}' target must be an absolute path.");
            }
        }

        // Every label a vPod carries: Kubernetes syntax, and none the installation selects its own pods by (see VPodLabels).
        foreach (var (key, value) in spec.Labels)
        {
            if (VPodLabels.Problem(key, value) is { } problem)
            {
                errors.Add(problem);
            }
        }

        foreach (var selector in spec.NetworkPolicy?.IngressFrom ?? [])
        {
            foreach (var part in (selector ?? string.Empty).Split(','))
            {
                var key = part.Split('=')[0].Trim();
                if (VPodLabels.SelectorKeyProblem(key) is { } problem)
                {
                    errors.Add($"network policy ingress '{selector}' {problem}");
                }
            }
        }

        if (spec.Replicas is < 1 or > 100)
        {
            errors.Add($"replicas '{spec.Replicas}' is invalid: use 1-100.");
        }

        foreach (var secret in spec.ImagePullSecrets)
        {
            if (!VPodNames.IsName(secret))
            {
                errors.Add($"image pull secret '{secret}' is invalid: use a lower-case DNS name.");
            }
        }

        if (spec.PersistentStorage is { } storage)
        {
            if (storage.SizeBytes < MinimumMemoryBytes)
            {
                errors.Add($"persistent storage size '{storage.SizeBytes}' bytes is invalid: at least 4Mi.");
            }

            if (!VPodNames.IsAbsolutePath(storage.MountPath))
            {
                errors.Add($"persistent storage mount path '{storage.MountPath}' must be an absolute path without spaces.");
            }

            if (storage.StorageClass is { } storageClass && !VPodNames.IsName(storageClass))
            {
                errors.Add($"persistent storage class '{storageClass}' is invalid: use a lower-case DNS name.");
            }
        }

        if (spec.Cluster is { } cluster && !VPodNames.IsClusterName(cluster))
        {
            errors.Add($"cluster '{cluster}' is invalid: use 1-{VPodNames.MaxClusterNameLength} lower-case letters, digits or '-', starting and ending with a letter or digit.");
        }

        return errors;
    }

    /// <summary>Throws <see cref="InvalidVPodSpecException"/> listing every problem.</summary>
    public static void ThrowIfInvalid(VPodSpec spec)
    {
        var errors = Validate(spec);
        if (errors.Count > 0)
        {
            throw new InvalidVPodSpecException("Invalid vPod spec: " + string.Join(" ", errors));
        }
    }
}

using System.Globalization;
using k8s.Models;

namespace MetaNode.Grains.Runtime.Kubernetes;

/// <summary>Maps the pods of a vPod (their phase, conditions and container statuses) to a <see cref="WorkloadObservation"/>. Pure.</summary>
public static class KubernetesPodStatus
{
    /// <summary>Waiting reasons that mean the image or the container's configuration cannot be used: the pod will not start by itself.</summary>
    private static readonly HashSet<string> StuckReasons = new(StringComparer.Ordinal)
    {
        "ErrImagePull", "ImagePullBackOff", "InvalidImageName", "ErrImageNeverPull", "CreateContainerConfigError", "CreateContainerError",
    };

    /// <summary>
    /// The observation for <paramref name="pods"/> of a workload that asks for <paramref name="desiredReplicas"/>:
    /// <list type="bullet">
    /// <item>an image that cannot be pulled, or a container that cannot be created → <see cref="WorkloadState.NotFound"/> with the reason and message (the workload cannot run; the grain's restart policy decides);</item>
    /// <item>a container in CrashLoopBackOff, or a pod that failed or completed → <see cref="WorkloadState.Exited"/> with the last exit code and whether it was OOMKilled;</item>
    /// <item>a pod with a running container → <see cref="WorkloadState.Running"/>;</item>
    /// <item>otherwise (no pod yet, pending, unschedulable, pulling) → <see cref="WorkloadState.Created"/> with what it waits for.</item>
    /// </list>
    /// </summary>
    public static WorkloadObservation Observe(IReadOnlyList<V1Pod> pods, int desiredReplicas)
    {
        ArgumentNullException.ThrowIfNull(pods);
        var live = pods.Where(p => p.Metadata?.DeletionTimestamp is null).OrderBy(p => p.Metadata?.Name, StringComparer.Ordinal).ToList();

        foreach (var pod in live)
        {
            foreach (var status in Containers(pod))
            {
                if (status.State?.Waiting is { Reason: { } reason } waiting && StuckReasons.Contains(reason))
                {
                    var what = reason.Contains("Image", StringComparison.Ordinal)
                        ? $"image '{status.Image}' cannot be pulled"
                        : "the container cannot be created";
                    return WorkloadObservation.NotFound($"{what} in pod {pod.Metadata?.Name} ({reason}): {waiting.Message ?? "no message"}");
                }
            }
        }

        foreach (var pod in live)
        {
            foreach (var status in Containers(pod))
            {
                if (status.State?.Waiting is { Reason: "CrashLoopBackOff" } waiting)
                {
                    var last = status.LastState?.Terminated;
                    return new WorkloadObservation(
                        WorkloadState.Exited,
                        last?.ExitCode,
                        last?.Reason == "OOMKilled",
                        $"pod {pod.Metadata?.Name} is in CrashLoopBackOff after {status.RestartCount.ToString(CultureInfo.InvariantCulture)} restarts: {waiting.Message ?? last?.Reason ?? "no message"}");
                }
            }
        }

        foreach (var pod in live)
        {
            if (pod.Status?.Phase is "Failed" or "Succeeded")
            {
                var terminated = Containers(pod).Select(c => c.State?.Terminated).FirstOrDefault(t => t is not null);
                return new WorkloadObservation(
                    WorkloadState.Exited,
                    terminated?.ExitCode,
                    terminated?.Reason == "OOMKilled",
                    $"pod {pod.Metadata?.Name} {pod.Status.Phase.ToLowerInvariant()}: {pod.Status.Reason ?? terminated?.Reason ?? "no reason"}{(pod.Status.Message is { } m ? $" ({m})" : string.Empty)}");
            }
        }

        var running = live.Count(p => p.Status?.Phase == "Running" && Containers(p).Any(c => c.State?.Running is not null));
        if (running > 0)
        {
            var ready = live.Count(p => p.Status?.Conditions?.Any(c => c.Type == "Ready" && c.Status == "True") == true);
            return new WorkloadObservation(
                WorkloadState.Running,
                Detail: $"{running.ToString(CultureInfo.InvariantCulture)}/{desiredReplicas.ToString(CultureInfo.InvariantCulture)} pods running, {ready.ToString(CultureInfo.InvariantCulture)} ready");
        }

        if (live.Count == 0)
        {
            return new WorkloadObservation(WorkloadState.Created, Detail: $"waiting for {desiredReplicas.ToString(CultureInfo.InvariantCulture)} pods to be created");
        }

        foreach (var pod in live)
        {
            if (pod.Status?.Conditions?.FirstOrDefault(c => c.Type == "PodScheduled" && c.Status == "False") is { } unscheduled)
            {
                return new WorkloadObservation(WorkloadState.Created, Detail: $"pod {pod.Metadata?.Name} cannot be scheduled ({unscheduled.Reason}): {unscheduled.Message}");
            }
        }

        var waitingFor = live.SelectMany(Containers).Select(c => c.State?.Waiting?.Reason).FirstOrDefault(r => r is not null) ?? "Pending";
        return new WorkloadObservation(WorkloadState.Created, Detail: $"{live.Count.ToString(CultureInfo.InvariantCulture)} pods starting ({waitingFor})");
    }

    private static IEnumerable<V1ContainerStatus> Containers(V1Pod pod) =>
        (pod.Status?.InitContainerStatuses ?? []).Concat(pod.Status?.ContainerStatuses ?? []);
}

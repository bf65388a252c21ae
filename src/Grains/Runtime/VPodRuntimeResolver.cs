using MetaNode.VPods;

namespace MetaNode.Grains.Runtime;

/// <summary>Resolves the runtime registered for a deployment method on this silo.</summary>
public sealed class VPodRuntimeResolver(IEnumerable<IVPodRuntime> runtimes) : IVPodRuntimeResolver
{
    private readonly Dictionary<DeploymentMethod, IVPodRuntime> _runtimes = runtimes.ToDictionary(r => r.Method);

    public IVPodRuntime Resolve(DeploymentMethod method) =>
        _runtimes.TryGetValue(method, out var runtime)
            ? runtime
            : throw new InvalidVPodSpecException(
                $"Deployment method '{method.ToString().ToLowerInvariant()}' is not available on this silo (available: {string.Join(", ", _runtimes.Keys.Select(k => k.ToString().ToLowerInvariant()))}).");
}

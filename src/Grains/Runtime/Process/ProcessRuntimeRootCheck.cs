using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace MetaNode.Grains.Runtime.Process;

/// <summary>
/// Warns when the silo starts if the process runtime's root lies inside the silo's data directory: the vPods' workload keys
/// (<c>vpods/{id}/key</c>) would then live under it. Only a configured root can; the default is a sibling (see <see cref="ProcessRuntimeRoot"/>).
/// It also makes the runtime itself, so that whether workloads can be isolated is found out, and said, when the silo starts
/// (a silo that must isolate and cannot fails to start here).
/// </summary>
public sealed partial class ProcessRuntimeRootCheck : ILifecycleParticipant<ISiloLifecycle>
{
    private readonly string _siloDataDirectory;
    private readonly IOptions<ProcessRuntimeOptions> _options;
    private readonly ILogger<ProcessRuntimeRootCheck> _logger;
    private readonly Func<ProcessRuntime>? _runtime;

    public ProcessRuntimeRootCheck(string siloDataDirectory, IOptions<ProcessRuntimeOptions> options, ILogger<ProcessRuntimeRootCheck> logger, Func<ProcessRuntime>? runtime = null)
    {
        _runtime = runtime;
        ArgumentException.ThrowIfNullOrWhiteSpace(siloDataDirectory);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(logger);
        _siloDataDirectory = siloDataDirectory;
        _options = options;
        _logger = logger;
    }

    public void Participate(ISiloLifecycle lifecycle)
    {
        ArgumentNullException.ThrowIfNull(lifecycle);
        lifecycle.Subscribe(
            nameof(ProcessRuntimeRootCheck),
            ServiceLifecycleStage.RuntimeInitialize,
            _ =>
            {
                Check();
                _runtime?.Invoke();
                return Task.CompletedTask;
            });
    }

    /// <summary>Logs the warning when the root is inside the silo's data directory; returns whether it did.</summary>
    public bool Check()
    {
        var root = Path.GetFullPath(_options.Value.DataDirectory);
        var silo = Path.GetFullPath(_siloDataDirectory);
        if (!ProcessRuntimeRoot.IsInside(root, silo))
        {
            return false;
        }

        LogRootInsideSiloData(_logger, root, silo);
        return true;
    }
}

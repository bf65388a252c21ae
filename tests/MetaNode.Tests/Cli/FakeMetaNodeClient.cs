using System.Runtime.CompilerServices;
using MetaNode.Chain;
using MetaNode.Client;
using MetaNode.VPods;

namespace MetaNode.Tests.Cli;

/// <summary>An in-memory <see cref="IMetaNodeClient"/> that records what the CLI asked for.</summary>
internal sealed partial class FakeMetaNodeClient : IMetaNodeClient
{
    public Dictionary<string, VPodStatus> VPods { get; } = new(StringComparer.Ordinal);

    public List<LogLine> Logs { get; } = [];

    /// <summary>Thrown by <see cref="ManageVPodAsync"/> when set (e.g. an operation not allowed in the phase).</summary>
    public Exception? ManageError { get; set; }

    /// <summary>When true, following logs waits for cancellation after the recorded lines.</summary>
    public bool FollowUntilCancelled { get; set; }

    public TaskCompletionSource FollowReachedEnd { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public VPodSpec? DeployedSpec { get; private set; }

    public (string Id, VPodAction Action, StopOptions? Options)? LastManage { get; private set; }

    public LogQuery? LastLogQuery { get; private set; }

    public bool Disposed { get; private set; }

    public ChainStatus Chain { get; set; } = new() { Enabled = true, RpcUrl = "http://127.0.0.1:8545", ChainId = 31337, Registry = "0x5fbdb2315678afecb367f032d93f642f64180aa3", Threshold = 2, Validators = ["0x1000000000000000000000000000000000000001", "0x2000000000000000000000000000000000000002", "0x3000000000000000000000000000000000000003"], SetId = 1, LastBlock = 12 };

    public FinalizeRoundCommand? LastFinalize { get; private set; }

    public DeployRegistryCommand? LastDeploy { get; private set; }

    public Task<ChainStatus> GetChainStatusAsync(CancellationToken cancellationToken = default) => Task.FromResult(Chain);

    public Task<ChainStatus> DeployRegistryAsync(DeployRegistryCommand command, CancellationToken cancellationToken = default)
    {
        LastDeploy = command;
        return Task.FromResult(Chain);
    }

    public Task<ValidatorSet> GetValidatorsAsync(CancellationToken cancellationToken = default) =>
        Task.FromResult(new ValidatorSet { Registry = Chain.Registry!, Threshold = Chain.Threshold, SetId = Chain.SetId, Validators = Chain.Validators.Select((a, i) => new ValidatorInfo(a, $"vpod-0000000{i}", $"validator-{i}")).ToArray() });

    /// <summary>Rounds <see cref="GetRoundAsync"/> answers as finalized; any other is not.</summary>
    public Dictionary<(string JobId, long Round), RoundRecord> Rounds { get; } = [];

    public Task<RoundRecord> GetRoundAsync(string jobId, long round, CancellationToken cancellationToken = default) =>
        Task.FromResult(Rounds.TryGetValue((jobId, round), out var record) ? record : new RoundRecord { JobId = jobId, Round = round, Finalized = false, Registry = Chain.Registry });

    public Task<FinalizationResult> FinalizeRoundAsync(FinalizeRoundCommand command, CancellationToken cancellationToken = default)
    {
        LastFinalize = command;
        return Task.FromResult(new FinalizationResult
        {
            Outcome = FinalizationOutcome.Finalized,
            Record = new RoundRecord { JobId = command.Round.JobId, Round = command.Round.Round, Finalized = true, BlockNumber = 13, ResultHash = command.Round.ResultHash, Verified = true },
            TransactionHash = "0x" + new string('a', 64),
            GasUsed = 65_000,
        });
    }

    public Task<ValidatorSet> RotateValidatorsAsync(IReadOnlyList<string> validators, int threshold, CancellationToken cancellationToken = default) => GetValidatorsAsync(cancellationToken);

    public static VPodStatus SampleStatus(string id = "vpod-0a1b2c3d", VPodPhase phase = VPodPhase.Running) => new()
    {
        Id = id,
        Name = "trainer-1",
        Type = VPodType.Compute,
        DeploymentMethod = DeploymentMethod.Process,
        Phase = phase,
        Health = VPodHealth.Healthy,
        RestartCount = 2,
        Handle = new RuntimeHandle(DeploymentMethod.Process, "4242", "node-a", new DateTimeOffset(2026, 1, 31, 12, 0, 0, TimeSpan.Zero), Endpoint: "http://127.0.0.1:8080"),
        CreatedAt = new DateTimeOffset(2026, 1, 31, 11, 59, 0, TimeSpan.Zero),
        StartedAt = new DateTimeOffset(2026, 1, 31, 12, 0, 0, TimeSpan.Zero),
        UpdatedAt = new DateTimeOffset(2026, 1, 31, 12, 0, 5, TimeSpan.Zero),
        Endpoint = "http://127.0.0.1:8080",
        Transitions =
        [
            new VPodTransition(VPodPhase.Pending, VPodPhase.Provisioning, VPodTrigger.Create, "created", new DateTimeOffset(2026, 1, 31, 11, 59, 0, TimeSpan.Zero)),
            new VPodTransition(VPodPhase.Starting, VPodPhase.Running, VPodTrigger.ProbeHealthy, "healthz ok", new DateTimeOffset(2026, 1, 31, 12, 0, 5, TimeSpan.Zero)),
        ],
        Spec = new VPodSpec { Name = "trainer-1", CpuMillis = 500, MemoryBytes = 256L << 20, Ports = [8080] },
    };

    public Task<VPodStatus> DeployVPodAsync(VPodSpec spec, CancellationToken cancellationToken = default)
    {
        DeployedSpec = spec;
        var status = SampleStatus("vpod-deadbeef", VPodPhase.Provisioning) with { Name = spec.Name, Type = spec.Type, Spec = spec, RestartCount = 0 };
        VPods[status.Id] = status;
        return Task.FromResult(status);
    }

    public Task<VPodStatus> ManageVPodAsync(string id, VPodAction action, StopOptions? options = null, CancellationToken cancellationToken = default)
    {
        LastManage = (id, action, options);
        var status = Get(id);
        if (ManageError is not null)
        {
            throw ManageError;
        }

        var phase = action switch
        {
            VPodAction.Start => VPodPhase.Starting,
            VPodAction.Stop => VPodPhase.Stopping,
            VPodAction.Restart => VPodPhase.Restarting,
            _ => VPodPhase.Deleted,
        };
        return Task.FromResult(status with { Phase = phase });
    }

    public Task<VPodStatus> CheckVPodStatusAsync(string id, CancellationToken cancellationToken = default) => Task.FromResult(Get(id));

    public Task<VPodStatus> AdmitVPodAddressAsync(string id, string address, CancellationToken cancellationToken = default) =>
        Get(id) is { ProvedAddress: { } proved } status && string.Equals(proved, address, StringComparison.OrdinalIgnoreCase)
            ? Task.FromResult(status with { Address = proved, Identity = VPodIdentityState.Proven })
            : throw new VPodIdentityException(id, $"vPod '{id}' has not proved address {address}.");

    public Task<VPodMetrics> GetVPodMetricsAsync(string id, CancellationToken cancellationToken = default)
    {
        var status = Get(id);
        return Task.FromResult(new VPodMetrics
        {
            Id = status.Id,
            Phase = status.Phase,
            Resources = new ResourceUsage(12.5, 100L << 20, 256L << 20),
            Network = new NetworkUsage(2048, 4096),
            CollectedAt = new DateTimeOffset(2026, 1, 31, 12, 1, 0, TimeSpan.Zero),
        });
    }

    public Task<IReadOnlyList<LogLine>> GetVPodLogsAsync(string id, LogQuery query, CancellationToken cancellationToken = default)
    {
        Get(id);
        LastLogQuery = query;
        return Task.FromResult<IReadOnlyList<LogLine>>(Logs.ToList());
    }

    public async IAsyncEnumerable<LogLine> FollowVPodLogsAsync(string id, LogQuery query, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        Get(id);
        LastLogQuery = query;
        foreach (var line in Logs)
        {
            yield return line;
        }

        FollowReachedEnd.TrySetResult();
        if (FollowUntilCancelled)
        {
            await Task.Delay(Timeout.Infinite, cancellationToken);
        }
    }

    public Task<IReadOnlyList<VPodSummary>> ListVPodsAsync(CancellationToken cancellationToken = default) =>
        Task.FromResult<IReadOnlyList<VPodSummary>>(VPods.Values.Select(s => new VPodSummary
        {
            Id = s.Id,
            Name = s.Name,
            Type = s.Type,
            DeploymentMethod = s.DeploymentMethod,
            Phase = s.Phase,
            Health = s.Health,
            RestartCount = s.RestartCount,
            CreatedAt = s.CreatedAt,
            UpdatedAt = s.UpdatedAt,
            ShouldRun = true,
        }).ToList());

    public ValueTask DisposeAsync()
    {
        Disposed = true;
        return ValueTask.CompletedTask;
    }

    private VPodStatus Get(string id) => VPods.TryGetValue(id, out var status) ? status : throw new VPodNotFoundException(id);
}

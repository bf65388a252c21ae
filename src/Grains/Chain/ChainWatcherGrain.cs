using MetaNode.Chain;
using MetaNode.Grains.Hosting;
using Microsoft.Extensions.Logging;
using Nethereum.Hex.HexConvertors.Extensions;
using Nethereum.RPC.Eth.DTOs;

namespace MetaNode.Grains.Chain;

/// <summary>The watcher's persisted checkpoint: the last block whose events were published, and that block's hash.</summary>
[GenerateSerializer, Alias("MetaNode.Chain.ChainWatcherState")]
public sealed class ChainWatcherState
{
    [Id(0)] public string? Registry { get; set; }
    [Id(1)] public long Checkpoint { get; set; } = -1;
    [Id(2)] public string? CheckpointHash { get; set; }
    [Id(3)] public long EventsPublished { get; set; }
    [Id(4)] public long ReorgsSeen { get; set; }

    /// <summary>The latest checkpoints, oldest first (the last is the current one): where a deep reorg's fork point is looked for.</summary>
    [Id(5)] public List<WatchedBlock> History { get; set; } = [];

    /// <summary>Events published in blocks above the oldest remembered checkpoint: what a reorg may have to retract.</summary>
    [Id(6)] public List<RoundFinalizedEvent> Recent { get; set; } = [];

    [Id(7)] public long EventsRetracted { get; set; }
}

/// <summary>A block the watcher checkpointed, with the hash it had then.</summary>
[GenerateSerializer, Immutable, Alias("MetaNode.Chain.WatchedBlock")]
public sealed record WatchedBlock
{
    [Id(0)] public long Number { get; init; }
    [Id(1)] public required string Hash { get; init; }
}

/// <summary>
/// Polls the registry's <c>RoundFinalized</c> logs up to the confirmation depth (so reorgs within it never reach
/// consumers), publishes them on the <see cref="ChainStreams.RegistryEvents"/> stream, then persists the checkpoint.
/// A deeper reorg (the checkpoint block's hash changed) rewinds to the newest remembered checkpoint still on the chain
/// (the fork point, or below it), retracts the events it had published above that point (<see cref="RoundFinalizedEvent.Removed"/>,
/// newest first) and republishes the canonical events from there. Consumers de-duplicate by
/// <see cref="RoundFinalizedEvent.EventId"/> and <see cref="RoundFinalizedEvent.BlockHash"/>.
/// A reminder keeps it alive; a grain timer polls.
/// </summary>
[GrainType("chain-watcher")]
public sealed partial class ChainWatcherGrain(
    [PersistentState("watcher", MetaNodeNames.ChainStorage)] IPersistentState<ChainWatcherState> state,
    ChainConnector connector,
    MetaNodeMetrics metrics,
    ILogger<ChainWatcherGrain> logger) : Grain, IChainWatcherGrain, IRemindable
{
    private const string KeepAliveReminder = "keep-alive";

    private IGrainTimer? _timer;
    private string? _lastError;

    private ChainWatcherState State => state.State;

    public override Task OnActivateAsync(CancellationToken cancellationToken)
    {
        StartTimer();
        return Task.CompletedTask;
    }

    public override Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken)
    {
        metrics.WatcherLeft();
        return Task.CompletedTask;
    }

    public async Task EnsureRunningAsync(CancellationToken cancellationToken = default)
    {
        await this.RegisterOrUpdateReminder(KeepAliveReminder, TimeSpan.FromMinutes(1), TimeSpan.FromMinutes(1));
        StartTimer();
    }

    public Task ReceiveReminder(string reminderName, TickStatus status)
    {
        StartTimer();
        return Task.CompletedTask;
    }

    public async Task<ChainWatcherStatus> PollAsync(CancellationToken cancellationToken = default)
    {
        await PollCoreAsync(cancellationToken);
        return Status();
    }

    public Task<ChainWatcherStatus> GetStatusAsync(CancellationToken cancellationToken = default) => Task.FromResult(Status());

    private ChainWatcherStatus Status() => new()
    {
        Registry = State.Registry,
        Checkpoint = State.Checkpoint,
        EventsPublished = State.EventsPublished,
        ReorgsSeen = State.ReorgsSeen,
        LastError = _lastError,
        EventsRetracted = State.EventsRetracted,
    };

    private void StartTimer()
    {
        if (_timer is not null || !connector.Options.Watcher.Enabled)
        {
            return;
        }

        var period = connector.Options.Watcher.PollInterval;
        _timer = this.RegisterGrainTimer(_ => TickAsync(), new GrainTimerCreationOptions(period, period) { KeepAlive = true });
    }

    private async Task TickAsync()
    {
        try
        {
            await PollCoreAsync(CancellationToken.None);
            _lastError = null;
        }
        catch (Exception exception) when (exception is not OutOfMemoryException)
        {
            // Logged once per distinct failure; the next tick tries again from the same checkpoint.
            if (_lastError != exception.Message)
            {
                LogPollFailed(logger, exception, State.Checkpoint);
            }

            _lastError = exception.Message;
        }
    }

    private async Task PollCoreAsync(CancellationToken cancellationToken)
    {
        if (!connector.IsEnabled)
        {
            return;
        }

        var registry = await GrainFactory.GetGrain<IChainGrain>(ChainKeys.Default).GetRegistryAsync(cancellationToken);
        if (registry is null)
        {
            return;
        }

        if (!string.Equals(registry, State.Registry, StringComparison.Ordinal))
        {
            // A new registry: its events start at its deployment, never before block 0.
            State.Registry = registry;
            State.Checkpoint = -1;
            State.CheckpointHash = null;
            State.History = [];
            State.Recent = [];
            await state.WriteStateAsync(cancellationToken);
        }

        var stream = this.GetStreamProvider(MetaNodeNames.StreamProvider).GetStream<RoundFinalizedEvent>(StreamId.Create(ChainStreams.RegistryEvents, registry));
        var head = await connector.GetBlockNumberAsync(cancellationToken);
        var safe = head - (connector.Options.Confirmations - 1);
        metrics.WatcherLag(head - State.Checkpoint);
        if (await FindRewindAsync(cancellationToken) is { } rewound)
        {
            LogReorg(logger, State.Checkpoint, rewound.Number);
            foreach (var dropped in Abandoned(State.Recent, rewound.Number))
            {
                await stream.OnNextAsync(dropped with { Removed = true });
                State.EventsRetracted++;
            }

            State.Recent = State.Recent.Where(e => e.BlockNumber <= rewound.Number).ToList();
            State.ReorgsSeen++;
            State.Checkpoint = rewound.Number;
            State.CheckpointHash = rewound.Number < 0 ? null : rewound.Hash;
            State.History = State.History.Where(b => b.Number <= rewound.Number).ToList();
            await state.WriteStateAsync(cancellationToken);
        }

        while (State.Checkpoint < safe)
        {
            var from = State.Checkpoint + 1;
            var to = Math.Min(safe, from + connector.Options.Watcher.MaxBlockRange - 1);
            var filter = new NewFilterInput
            {
                Address = [registry],
                FromBlock = new BlockParameter((ulong)from),
                ToBlock = new BlockParameter((ulong)to),
                Topics = [RegistryClient.RoundFinalizedTopic],
            };

            // The range's last block before and after the logs are read, and the checkpoint after: a reorg in between
            // changes one of them, and nothing read is published (the next poll finds the fork point).
            var last = await BlockHashAsync(to, cancellationToken);
            var logs = await connector.CallAsync("eth_getLogs", w => w.Eth.Filters.GetLogs.SendRequestAsync(filter), cancellationToken);
            if (last is null
                || !SameHash(await BlockHashAsync(to, cancellationToken), last)
                || (State.Checkpoint >= 0 && State.CheckpointHash is { } expected && !SameHash(await BlockHashAsync(State.Checkpoint, cancellationToken), expected)))
            {
                LogRangeChanged(logger, from, to);
                return;
            }

            foreach (var log in logs.Where(l => !l.Removed).OrderBy(l => l.BlockNumber.Value).ThenBy(l => l.LogIndex.Value))
            {
                var decoded = Decode(registry, log);
                if (decoded is not null)
                {
                    await stream.OnNextAsync(decoded);
                    State.EventsPublished++;
                    State.Recent.Add(decoded);
                }
            }

            State.Checkpoint = to;
            State.CheckpointHash = last;
            State.History = Remember(State.History, new WatchedBlock { Number = to, Hash = last }, connector.Options.Watcher.ReorgHistory);
            State.Recent = Retractable(State.Recent, State.History);
            await state.WriteStateAsync(cancellationToken);
            metrics.WatcherLag(head - State.Checkpoint);
        }
    }

    /// <summary>
    /// Null while the checkpoint block still has the hash it had; after a reorg, the newest remembered checkpoint that is
    /// still on the chain (at or below the fork point), or block -1 (a full rescan) when none of them is.
    /// </summary>
    private async Task<WatchedBlock?> FindRewindAsync(CancellationToken cancellationToken)
    {
        if (State.Checkpoint < 0 || State.CheckpointHash is not { } expected || SameHash(await BlockHashAsync(State.Checkpoint, cancellationToken), expected))
        {
            return null;
        }

        foreach (var seen in State.History.Where(b => b.Number < State.Checkpoint).OrderByDescending(b => b.Number))
        {
            if (SameHash(await BlockHashAsync(seen.Number, cancellationToken), seen.Hash))
            {
                return seen;
            }
        }

        return new WatchedBlock { Number = -1, Hash = string.Empty };
    }

    private async Task<string?> BlockHashAsync(long number, CancellationToken cancellationToken)
    {
        var block = await connector.CallAsync("eth_getBlockByNumber", w => w.Eth.Blocks.GetBlockWithTransactionsHashesByNumber.SendRequestAsync(new BlockParameter((ulong)number)), cancellationToken);
        return block?.BlockHash;
    }

    private static bool SameHash(string? actual, string expected) => string.Equals(actual, expected, StringComparison.OrdinalIgnoreCase);

    /// <summary>The history with <paramref name="block"/> appended, keeping the newest <paramref name="limit"/> entries below it.</summary>
    internal static List<WatchedBlock> Remember(IReadOnlyList<WatchedBlock> history, WatchedBlock block, int limit)
    {
        var kept = history.Where(b => b.Number < block.Number).TakeLast(limit - 1).ToList();
        kept.Add(block);
        return kept;
    }

    /// <summary>The published events above the fork point <paramref name="rewoundTo"/>, newest first: what a reorg retracts.</summary>
    internal static IReadOnlyList<RoundFinalizedEvent> Abandoned(IEnumerable<RoundFinalizedEvent> recent, long rewoundTo) =>
        recent.Where(e => e.BlockNumber > rewoundTo).OrderByDescending(e => e.BlockNumber).ThenByDescending(e => e.LogIndex).ToList();

    /// <summary>
    /// The events a later reorg could still retract: those above the oldest remembered checkpoint (a rewind never stops
    /// lower, except for a full rescan, which republishes everything).
    /// </summary>
    internal static List<RoundFinalizedEvent> Retractable(IEnumerable<RoundFinalizedEvent> recent, IReadOnlyList<WatchedBlock> history) =>
        history.Count == 0 ? [] : recent.Where(e => e.BlockNumber > history[0].Number).ToList();

    /// <summary>A RoundFinalized log as a typed event; null when it does not have the event's shape (its data decoded strictly, see <see cref="RegistryClient.DecodeRoundFinalizedData"/>).</summary>
    internal static RoundFinalizedEvent? Decode(string registry, FilterLog log)
    {
        var topics = log.Topics.Select(t => t?.ToString() ?? string.Empty).ToArray();
        if (topics.Length != 3 || !string.Equals(topics[0], RegistryClient.RoundFinalizedTopic, StringComparison.OrdinalIgnoreCase)
            || RegistryClient.DecodeRoundFinalizedData(log.Data.HexToByteArray()) is not { } data)
        {
            return null;
        }

        return new RoundFinalizedEvent
        {
            EventId = $"{log.TransactionHash}:{log.LogIndex.Value}",
            Registry = registry,
            JobId = HexValues.JobIdFromBytes32(topics[1].HexToByteArray()),
            Round = (long)new System.Numerics.BigInteger(topics[2].HexToByteArray(), isUnsigned: true, isBigEndian: true),
            ResultHash = data.ResultHash,
            ReceiptsRoot = data.ReceiptsRoot,
            ModelRef = data.ModelRef,
            ModelCid = data.ModelCid,
            BlockNumber = (long)log.BlockNumber.Value,
            BlockHash = log.BlockHash,
            TransactionHash = log.TransactionHash,
            LogIndex = (long)log.LogIndex.Value,
        };
    }
}

/// <summary>Starts the chain watcher when the silo becomes active (the grain is idempotent; every silo may ask).</summary>
public sealed partial class ChainWatcherStarter : ILifecycleParticipant<ISiloLifecycle>
{
    private readonly IGrainFactory _grains;
    private readonly ChainConnector _connector;
    private readonly ILogger<ChainWatcherStarter> _logger;

    public ChainWatcherStarter(IGrainFactory grains, ChainConnector connector, ILogger<ChainWatcherStarter> logger)
    {
        _grains = grains;
        _connector = connector;
        _logger = logger;
    }

    public void Participate(ISiloLifecycle lifecycle) =>
        lifecycle.Subscribe(nameof(ChainWatcherStarter), ServiceLifecycleStage.Active, async ct =>
        {
            if (!_connector.IsEnabled || !_connector.Options.Watcher.Enabled)
            {
                return;
            }

            try
            {
                await _grains.GetGrain<IChainWatcherGrain>(ChainKeys.Default).EnsureRunningAsync(ct);
            }
            catch (Exception exception) when (exception is not OutOfMemoryException)
            {
                LogStartFailed(_logger, exception);
            }
        });
}

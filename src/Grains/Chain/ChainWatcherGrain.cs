using MetaNode.Chain;
using MetaNode.Grains.Hosting;
using Microsoft.Extensions.Logging;
using Nethereum.Hex.HexConvertors.Extensions;
using Nethereum.RPC.Eth.DTOs;
using Orleans.Streams;

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
}

/// <summary>
/// Polls the registry's <c>RoundFinalized</c> logs up to the confirmation depth (so reorgs within it never reach
/// consumers), publishes them on the <see cref="ChainStreams.RegistryEvents"/> stream, then persists the checkpoint.
/// A deeper reorg (the checkpoint block's hash changed) rewinds by the depth and republishes; consumers de-duplicate
/// by <see cref="RoundFinalizedEvent.EventId"/>. A reminder keeps it alive; a grain timer polls.
/// </summary>
[GrainType("chain-watcher")]
public sealed partial class ChainWatcherGrain : Grain, IChainWatcherGrain, IRemindable
{
    private const string KeepAliveReminder = "keep-alive";

    private readonly IPersistentState<ChainWatcherState> _state;
    private readonly ChainConnector _connector;
    private readonly ILogger<ChainWatcherGrain> _logger;
    private IGrainTimer? _timer;
    private string? _lastError;

    public ChainWatcherGrain(
        [PersistentState("watcher", MetaNodeNames.ChainStorage)] IPersistentState<ChainWatcherState> state,
        ChainConnector connector,
        ILogger<ChainWatcherGrain> logger)
    {
        _state = state;
        _connector = connector;
        _logger = logger;
    }

    private ChainWatcherState State => _state.State;

    public override Task OnActivateAsync(CancellationToken cancellationToken)
    {
        StartTimer();
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
    };

    private void StartTimer()
    {
        if (_timer is not null || !_connector.Options.Watcher.Enabled)
        {
            return;
        }

        var period = _connector.Options.Watcher.PollInterval;
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
                LogPollFailed(_logger, exception, State.Checkpoint);
            }

            _lastError = exception.Message;
        }
    }

    private async Task PollCoreAsync(CancellationToken cancellationToken)
    {
        if (!_connector.IsEnabled)
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
            await _state.WriteStateAsync(cancellationToken);
        }

        var confirmations = _connector.Options.Confirmations;
        var head = await _connector.GetBlockNumberAsync(cancellationToken);
        var safe = head - (confirmations - 1);
        if (State.Checkpoint >= 0 && State.CheckpointHash is { } expected)
        {
            var block = await _connector.CallAsync("eth_getBlockByNumber", w => w.Eth.Blocks.GetBlockWithTransactionsHashesByNumber.SendRequestAsync(new BlockParameter((ulong)State.Checkpoint)), cancellationToken);
            if (block is null || !string.Equals(block.BlockHash, expected, StringComparison.OrdinalIgnoreCase))
            {
                var rewound = Math.Max(-1, State.Checkpoint - confirmations);
                LogReorg(_logger, State.Checkpoint, rewound);
                State.ReorgsSeen++;
                State.Checkpoint = rewound;
                State.CheckpointHash = null;
                await _state.WriteStateAsync(cancellationToken);
            }
        }

        var stream = this.GetStreamProvider(MetaNodeNames.StreamProvider).GetStream<RoundFinalizedEvent>(StreamId.Create(ChainStreams.RegistryEvents, registry));
        while (State.Checkpoint < safe)
        {
            var from = State.Checkpoint + 1;
            var to = Math.Min(safe, from + _connector.Options.Watcher.MaxBlockRange - 1);
            var filter = new NewFilterInput
            {
                Address = [registry],
                FromBlock = new BlockParameter((ulong)from),
                ToBlock = new BlockParameter((ulong)to),
                Topics = [RegistryClient.RoundFinalizedTopic],
            };
            var logs = await _connector.CallAsync("eth_getLogs", w => w.Eth.Filters.GetLogs.SendRequestAsync(filter), cancellationToken);
            foreach (var log in logs.Where(l => !l.Removed).OrderBy(l => l.BlockNumber.Value).ThenBy(l => l.LogIndex.Value))
            {
                var decoded = Decode(registry, log);
                if (decoded is not null)
                {
                    await stream.OnNextAsync(decoded);
                    State.EventsPublished++;
                }
            }

            var last = await _connector.CallAsync("eth_getBlockByNumber", w => w.Eth.Blocks.GetBlockWithTransactionsHashesByNumber.SendRequestAsync(new BlockParameter((ulong)to)), cancellationToken);
            State.Checkpoint = to;
            State.CheckpointHash = last?.BlockHash;
            await _state.WriteStateAsync(cancellationToken);
        }
    }

    /// <summary>A RoundFinalized log as a typed event; null when it does not have the event's shape.</summary>
    internal static RoundFinalizedEvent? Decode(string registry, FilterLog log)
    {
        var topics = log.Topics.Select(t => t?.ToString() ?? string.Empty).ToArray();
        var data = log.Data.HexToByteArray();
        if (topics.Length != 3 || data.Length != 96 || !string.Equals(topics[0], RegistryClient.RoundFinalizedTopic, StringComparison.OrdinalIgnoreCase))
        {
            return null;
        }

        return new RoundFinalizedEvent
        {
            EventId = $"{log.TransactionHash}:{log.LogIndex.Value}",
            Registry = registry,
            JobId = HexValues.JobIdFromBytes32(topics[1].HexToByteArray()),
            Round = (long)new System.Numerics.BigInteger(topics[2].HexToByteArray(), isUnsigned: true, isBigEndian: true),
            ResultHash = HexValues.ToHex(data[..32]),
            ReceiptsRoot = HexValues.ToHex(data[32..64]),
            ModelRef = HexValues.ToHex(data[64..96]),
            BlockNumber = (long)log.BlockNumber.Value,
            BlockHash = log.BlockHash,
            TransactionHash = log.TransactionHash,
            LogIndex = (long)log.LogIndex.Value,
        };
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Chain watcher could not poll the registry's logs after block {Checkpoint}; it retries on the next tick")]
    private static partial void LogPollFailed(ILogger logger, Exception exception, long checkpoint);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Chain watcher: block {Checkpoint} changed (a reorg deeper than the confirmation depth); rewinding to {Rewound} and republishing")]
    private static partial void LogReorg(ILogger logger, long checkpoint, long rewound);
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

    [LoggerMessage(Level = LogLevel.Warning, Message = "The chain watcher could not be started; registry events are not streamed until a silo starts it")]
    private static partial void LogStartFailed(ILogger logger, Exception exception);
}

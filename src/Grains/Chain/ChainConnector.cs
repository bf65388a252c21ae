using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Net.Sockets;
using MetaNode.Chain;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Nethereum.JsonRpc.Client;
using Nethereum.Web3;

namespace MetaNode.Grains.Chain;

/// <summary>Where the silo's chain is: set from configuration, or by the dev chain once anvil runs.</summary>
public sealed record ChainEndpoint(string RpcUrl, long ChainId, string? Registry, bool DevChain);

/// <summary>
/// The silo's JSON-RPC connection (a service: grains decide, this does the I/O). Retries transport errors with bounded
/// exponential backoff, measures RPC latency and remembers the last block seen. Disabled, with a reason, until an
/// endpoint is known.
/// </summary>
public sealed partial class ChainConnector : IDisposable
{
    public const string MeterName = "MetaNode.Chain";

    private readonly ChainOptions _options;
    private readonly ILogger<ChainConnector> _logger;
    private readonly Meter _meter = new(MeterName);
    private readonly Histogram<double> _rpcLatency;
    private readonly object _gate = new();
    private ChainEndpoint? _endpoint;
    private Web3? _web3;
    private string _disabledReason;
    private long _lastBlock = -1;
    private double _latencyEwmaMs = -1;
    private CheckedChainId? _chainId;

    public ChainConnector(IOptions<ChainOptions> options, ILogger<ChainConnector> logger)
    {
        _options = options.Value;
        _logger = logger;
        _rpcLatency = _meter.CreateHistogram("metanode.chain.rpc.duration", "s", "JSON-RPC call latency", advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10] });
        _meter.CreateObservableGauge("metanode.chain.last_block", () => Interlocked.Read(ref _lastBlock), description: "Last block number seen");
        TransactionsSubmitted = _meter.CreateCounter<long>("metanode.chain.transactions.submitted", "{transaction}", "Transactions sent (replacements included)");
        TransactionsConfirmed = _meter.CreateCounter<long>("metanode.chain.transactions.confirmed", "{transaction}", "Transactions confirmed");
        GasUsed = _meter.CreateCounter<long>("metanode.chain.gas_used", description: "Gas used by confirmed transactions");
        _disabledReason = "no chain is configured: set MetaNode:Chain:RpcUrl (and RegistryAddress), or run the embedded profile, which starts a dev chain.";
        if (!string.IsNullOrWhiteSpace(_options.RpcUrl))
        {
            Configure(new ChainEndpoint(_options.RpcUrl, _options.ChainId, _options.RegistryAddress?.ToLowerInvariant(), DevChain: false));
        }
    }

    internal Counter<long> TransactionsSubmitted { get; }

    internal Counter<long> TransactionsConfirmed { get; }

    internal Counter<long> GasUsed { get; }

    public ChainOptions Options => _options;

    public bool IsEnabled => _endpoint is not null;

    public ChainEndpoint? Endpoint => _endpoint;

    public string DisabledReason => _disabledReason;

    public long? LastBlockSeen => Interlocked.Read(ref _lastBlock) is var b and >= 0 ? b : null;

    public double? RpcLatencyMs => _latencyEwmaMs >= 0 ? _latencyEwmaMs : null;

    /// <summary>Points the connector at a node (dev chain start-up, or configuration).</summary>
    public void Configure(ChainEndpoint endpoint)
    {
        ArgumentNullException.ThrowIfNull(endpoint);
        ClientBase.ConnectionTimeout = _options.RpcTimeout;
        var client = new RpcClient(new Uri(endpoint.RpcUrl));
        lock (_gate)
        {
            _endpoint = endpoint;
            _web3 = new Web3(client);
        }

        LogConfigured(_logger, RpcUrls.Redact(endpoint.RpcUrl), endpoint.ChainId, endpoint.Registry ?? "(none)", endpoint.DevChain);
    }

    /// <summary>Turns chain features off with a reason shown by <c>chain status</c>.</summary>
    public void Disable(string reason)
    {
        lock (_gate)
        {
            _endpoint = null;
            _web3 = null;
            _disabledReason = reason;
        }
    }

    public ChainEndpoint RequireEndpoint() => _endpoint ?? throw new ChainUnavailableException(_disabledReason);

    /// <summary>How long a node's chain id, once checked, is taken as known (signatures and transactions bind the chain id, so one made for a node swapped in the meantime is void on the other chain).</summary>
    public static readonly TimeSpan ChainIdRecheckInterval = TimeSpan.FromSeconds(30);

    /// <summary>The node's chain id, checked against the configured one (asked again at most every <see cref="ChainIdRecheckInterval"/>).</summary>
    public async Task<long> GetChainIdAsync(CancellationToken cancellationToken)
    {
        var endpoint = RequireEndpoint();
        if (_chainId is { } known && ReferenceEquals(known.Endpoint, endpoint) && Stopwatch.GetElapsedTime(known.CheckedAt) < ChainIdRecheckInterval)
        {
            return known.ChainId;
        }

        var actual = (long)(await CallAsync("eth_chainId", w => w.Eth.ChainId.SendRequestAsync(), cancellationToken)).Value;
        if (endpoint.ChainId != 0 && endpoint.ChainId != actual)
        {
            _chainId = null;
            throw new ChainUnavailableException($"the node at {RpcUrls.Redact(endpoint.RpcUrl)} reports chain id {actual}, but MetaNode:Chain:ChainId is {endpoint.ChainId}; nothing is signed for the wrong chain.");
        }

        _chainId = new CheckedChainId(endpoint, actual, Stopwatch.GetTimestamp());
        return actual;
    }

    private sealed record CheckedChainId(ChainEndpoint Endpoint, long ChainId, long CheckedAt);

    public async Task<long> GetBlockNumberAsync(CancellationToken cancellationToken)
    {
        var number = (long)(await CallAsync("eth_blockNumber", w => w.Eth.Blocks.GetBlockNumber.SendRequestAsync(), cancellationToken)).Value;
        ObserveBlock(number);
        return number;
    }

    public void ObserveBlock(long number)
    {
        long seen;
        do
        {
            seen = Interlocked.Read(ref _lastBlock);
            if (number <= seen)
            {
                return;
            }
        }
        while (Interlocked.CompareExchange(ref _lastBlock, number, seen) != seen);
    }

    /// <summary>
    /// Runs one RPC call; transport failures (connection refused, timeouts, 5xx) are retried with exponential backoff up
    /// to <see cref="ChainOptions.RpcRetries"/> times. A JSON-RPC error from the node is not retried.
    /// </summary>
    public async Task<T> CallAsync<T>(string operation, Func<Web3, Task<T>> call, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(call);
        var delay = _options.RpcRetryBackoffInitial;
        for (var attempt = 0; ; attempt++)
        {
            var web3 = _web3 ?? throw new ChainUnavailableException(_disabledReason);
            var watch = Stopwatch.StartNew();
            try
            {
                var result = await call(web3).WaitAsync(_options.RpcTimeout, cancellationToken).ConfigureAwait(false);
                Observe(operation, watch.Elapsed.TotalMilliseconds);
                return result;
            }
            catch (Exception exception) when (IsTransient(exception) && !cancellationToken.IsCancellationRequested && attempt < _options.RpcRetries)
            {
                LogRpcRetry(_logger, operation, attempt + 1, _options.RpcRetries, delay, exception.GetBaseException().Message);
                await Task.Delay(delay, cancellationToken).ConfigureAwait(false);
                delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, _options.RpcRetryBackoffCap.Ticks));
            }
            catch (Exception exception) when (IsTransient(exception) && !cancellationToken.IsCancellationRequested)
            {
                throw new ChainUnavailableException($"{operation} failed after {_options.RpcRetries} retries: the node at {RpcUrls.Redact(_endpoint?.RpcUrl)} is unreachable ({exception.GetBaseException().Message}).");
            }
        }
    }

    /// <summary>Transport trouble worth retrying, as opposed to an answer from the node.</summary>
    public static bool IsTransient(Exception exception) => exception switch
    {
        RpcResponseException => false,
        RpcClientUnknownException or RpcClientTimeoutException or HttpRequestException or SocketException or IOException or TimeoutException => true,
        TaskCanceledException => true,
        AggregateException aggregate => aggregate.InnerExceptions.Any(IsTransient),
        _ => exception.InnerException is { } inner && IsTransient(inner),
    };

    public void Dispose() => _meter.Dispose();

    private void Observe(string operation, double ms)
    {
        _rpcLatency.Record(ms / 1000, new KeyValuePair<string, object?>("method", operation));
        _latencyEwmaMs = _latencyEwmaMs < 0 ? ms : (_latencyEwmaMs * 0.8) + (ms * 0.2);
    }
}

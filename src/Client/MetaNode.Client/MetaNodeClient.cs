using System.Globalization;
using System.Runtime.CompilerServices;
using MetaNode.Chain;
using MetaNode.Placement;
using MetaNode.VPods;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Npgsql;
using MetaNode.Security;
using Orleans.Configuration;

namespace MetaNode.Client;

/// <summary>
/// The typed MetaNode client. Either connect to a cluster with <see cref="ConnectAsync(MetaNodeClientOptions, CancellationToken)"/>
/// (the client then owns its Orleans client host), or wrap a grain factory you already have (a silo, a test cluster).
/// </summary>
public sealed partial class MetaNodeClient : IMetaNodeClient
{
    /// <summary>The ADO.NET invariant name of the PostgreSQL provider used for database clustering.</summary>
    public const string PostgresInvariant = "Npgsql";

    private static readonly TimeSpan RetryDelay = TimeSpan.FromMilliseconds(250);
    private static readonly TimeSpan ShutdownTimeout = TimeSpan.FromSeconds(5);

    private readonly IGrainFactory _grainFactory;
    private readonly IHost? _host;
    private readonly ClientIdentity? _identity;
    private readonly ILogger _logger;
    private readonly VPodStatusCache _statuses = new();
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, IVPodGrain> _vpodGrains = new(StringComparer.Ordinal);
    private int _disposed;

    /// <summary>Wraps an existing cluster client or grain factory; disposing this client leaves it untouched.</summary>
    public MetaNodeClient(IGrainFactory grainFactory, ILogger<MetaNodeClient>? logger = null)
    {
        ArgumentNullException.ThrowIfNull(grainFactory);
        _grainFactory = grainFactory;
        _logger = logger ?? NullLogger<MetaNodeClient>.Instance;
    }

    private MetaNodeClient(IHost host, ClientIdentity? identity, ILogger logger)
    {
        _identity = identity;
        _host = host;
        _grainFactory = host.Services.GetRequiredService<IClusterClient>();
        _logger = logger;
    }

    /// <summary>The grain factory behind the typed API, for grain calls it does not cover (clusters, jobs, chain accounts).</summary>
    public IGrainFactory GrainFactory => _grainFactory;

    /// <summary>Connects to the cluster described by <paramref name="options"/>.</summary>
    /// <exception cref="OptionsValidationException">The options are invalid; the message names the option and the bad value.</exception>
    /// <exception cref="MetaNodeConnectionException">No gateway could be reached within <see cref="MetaNodeClientOptions.ConnectTimeout"/>.</exception>
    public static Task<MetaNodeClient> ConnectAsync(MetaNodeClientOptions options, CancellationToken cancellationToken = default) =>
        ConnectAsync(options, loggerFactory: null, cancellationToken);

    /// <summary>Connects to the cluster; Orleans client and connection logs go to <paramref name="loggerFactory"/> when given.</summary>
    public static async Task<MetaNodeClient> ConnectAsync(MetaNodeClientOptions options, ILoggerFactory? loggerFactory, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        var validation = new MetaNodeClientOptionsValidator().Validate(Options.DefaultName, options);
        if (validation.Failed)
        {
            throw new OptionsValidationException(Options.DefaultName, typeof(MetaNodeClientOptions), validation.Failures);
        }

        loggerFactory ??= NullLoggerFactory.Instance;
        var logger = loggerFactory.CreateLogger<MetaNodeClient>();
        var target = DescribeTarget(options);
        var retryFilter = new DeadlineRetryFilter(DateTimeOffset.UtcNow + options.ConnectTimeout, RetryDelay);

        var gateways = new List<System.Net.IPEndPoint>();
        if (!options.UsesDatabaseClustering)
        {
            foreach (var gateway in options.Gateways)
            {
                gateways.Add(await GatewayAddress.Parse(gateway).ResolveAsync(cancellationToken).ConfigureAwait(false));
            }
        }

        var identityDirectory = ResolveIdentity(options);
        var identity = identityDirectory is null ? null : IdentityDirectory.Load(identityDirectory);
        var host = new HostBuilder()
            .ConfigureServices(services => services.AddSingleton<IHostLifetime, PassiveHostLifetime>())
            .ConfigureLogging(logging =>
            {
                logging.ClearProviders();
                logging.Services.Replace(ServiceDescriptor.Singleton(loggerFactory));
            })
            .UseOrleansClient(client =>
            {
                client.Configure<ClusterOptions>(cluster =>
                {
                    cluster.ClusterId = options.ClusterId;
                    cluster.ServiceId = options.ServiceId;
                });
                if (options.UsesDatabaseClustering)
                {
                    client.UseAdoNetClustering(adoNet =>
                    {
                        adoNet.Invariant = PostgresInvariant;
                        adoNet.ConnectionString = options.ConnectionString;
                    });
                }
                else
                {
                    client.UseStaticClustering([.. gateways]);
                }

                client.Services.AddSingleton<IClientConnectionRetryFilter>(retryFilter);
                if (identity is not null)
                {
                    // Mutual TLS: this identity's certificate, and only silos the cluster CA issued (OU=silo) are trusted.
                    client.UseTls(identity.Certificate, tls => tls.RemoteCertificateValidation = (certificate, _, _) =>
                        ClusterCertificates.IsIssuedBy(certificate, identity.Authority, ClusterCertificates.SiloUnit));
                    var credential = identity.Credential;
                    client.AddOutgoingGrainCallFilter(context =>
                    {
                        RequestContext.Set(AccessCredential.RequestContextKey, credential);
                        return context.Invoke();
                    });
                }
            })
            .Build();

        LogConnecting(logger, target, options.ConnectTimeout.TotalSeconds);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(options.ConnectTimeout);
        try
        {
            // WaitAsync bounds the wait even if a start-up step does not observe the token.
            await host.StartAsync(timeout.Token).WaitAsync(options.ConnectTimeout + RetryDelay, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (!cancellationToken.IsCancellationRequested)
        {
            await DisposeHostAsync(host, logger).ConfigureAwait(false);
            var cause = retryFilter.LastError ?? ex;
            var seconds = options.ConnectTimeout.TotalSeconds.ToString("0.###", CultureInfo.InvariantCulture);
            var hint = identity is null
                ? $" (no identity was used: a silo with TLS needs one; pass --identity DIR or set {IdentityDirectory.EnvironmentVariable}; the embedded silo places its admin identity in ~/.metanode/identities/<host>_<port>)"
                : $" (identity '{identity.Name}' from {identity.Directory})";
            identity?.Dispose();
            throw new MetaNodeConnectionException(
                $"Cannot reach the MetaNode cluster '{options.ClusterId}' through {target} within {seconds} s: {FirstLine(cause.Message)}{hint}",
                cause);
        }
        catch
        {
            await DisposeHostAsync(host, logger).ConfigureAwait(false);
            identity?.Dispose();
            throw;
        }

        LogConnected(logger, target);
        return new MetaNodeClient(host, identity, logger);
    }

    public async Task<VPodStatus> DeployVPodAsync(VPodSpec spec, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(spec);
        var id = VPodIds.NewId();
        LogDeploying(_logger, id, spec.Name);

        // Placement chooses the vPod's silo when this first call activates it: the size goes along, so the silo chosen has room.
        RequestContext.Set(PlacementLedgerKeys.RequestContextKey, PlacementRequest.For(id, spec));
        try
        {
            return await VPod(id).CreateAsync(spec, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            RequestContext.Remove(PlacementLedgerKeys.RequestContextKey);
        }
    }

    public Task<VPodStatus> ManageVPodAsync(string id, VPodAction action, StopOptions? options = null, CancellationToken cancellationToken = default)
    {
        var grain = VPod(id);
        options ??= new StopOptions();
        return action switch
        {
            VPodAction.Start => grain.StartAsync(cancellationToken),
            VPodAction.Stop => grain.StopAsync(options, cancellationToken),
            VPodAction.Restart => grain.RestartAsync(options, cancellationToken),
            VPodAction.Delete => grain.DeleteAsync(options, cancellationToken),
            _ => throw new ArgumentOutOfRangeException(nameof(action), action, $"Unknown vPod action '{action}'."),
        };
    }

    /// <summary>
    /// The vPod's status at the time of the call. The client keeps the last status it was sent for each vPod (up to
    /// 4,096 vPods) and is sent only a "no change" while it holds the current one; the returned status may be shared
    /// with other calls.
    /// </summary>
    public Task<VPodStatus> CheckVPodStatusAsync(string id, CancellationToken cancellationToken = default) =>
        _statuses.GetAsync(id, VPod(id), cancellationToken);

    public Task<VPodMetrics> GetVPodMetricsAsync(string id, CancellationToken cancellationToken = default) =>
        VPod(id).GetMetricsAsync(cancellationToken);

    public Task<VPodStatus> AdmitVPodAddressAsync(string id, string address, CancellationToken cancellationToken = default) =>
        VPod(id).AdmitAddressAsync(address, cancellationToken);

    public Task<IReadOnlyList<LogLine>> GetVPodLogsAsync(string id, LogQuery query, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(query);
        return VPod(id).GetLogsAsync(query, cancellationToken);
    }

    public IAsyncEnumerable<LogLine> FollowVPodLogsAsync(string id, LogQuery query, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(query);
        var grain = VPod(id);
        return FollowAsync(grain, query, cancellationToken);
    }

    public Task<IReadOnlyList<VPodSummary>> ListVPodsAsync(CancellationToken cancellationToken = default) =>
        _grainFactory.GetGrain<IVPodRegistryGrain>(VPodRegistryKeys.Default).ListAsync(cancellationToken);

    public Task<ChainStatus> GetChainStatusAsync(CancellationToken cancellationToken = default) =>
        Chain.GetStatusAsync(cancellationToken);

    public Task<ChainStatus> DeployRegistryAsync(DeployRegistryCommand command, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(command);
        return Chain.DeployRegistryAsync(command, cancellationToken);
    }

    public Task<ValidatorSet> GetValidatorsAsync(CancellationToken cancellationToken = default) =>
        Chain.GetValidatorsAsync(cancellationToken);

    public Task<RoundRecord> GetRoundAsync(string jobId, long round, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(jobId);
        ArgumentOutOfRangeException.ThrowIfNegative(round);
        return Chain.GetRoundAsync(jobId, round, cancellationToken);
    }

    public Task<FinalizationResult> FinalizeRoundAsync(FinalizeRoundCommand command, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(command);
        return Chain.FinalizeRoundAsync(command, cancellationToken);
    }

    public Task<ValidatorSet> RotateValidatorsAsync(IReadOnlyList<string> validators, int threshold, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(validators);
        return Chain.RotateValidatorsAsync(validators, threshold, cancellationToken);
    }

    private IChainGrain Chain => _grainFactory.GetGrain<IChainGrain>(ChainKeys.Default);

    public Task<IssuedIdentity> GrantAccessAsync(GrantRequest request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        return Access.GrantAsync(request, cancellationToken);
    }

    public Task<IdentityRecord> RevokeAccessAsync(string name, CancellationToken cancellationToken = default) => Access.RevokeAsync(name, cancellationToken);

    public Task<IdentityRecord> RevokeAccessSerialAsync(string serial, CancellationToken cancellationToken = default) => Access.RevokeSerialAsync(serial, cancellationToken);

    public Task<IReadOnlyList<IdentityRecord>> ListAccessAsync(CancellationToken cancellationToken = default) => Access.ListAsync(cancellationToken);

    public Task<string> IssueAccessTokenAsync(string name, TimeSpan validFor, CancellationToken cancellationToken = default) =>
        Access.IssueTokenAsync(name, validFor, cancellationToken);

    public Task<IReadOnlyList<AuditEntry>> ListAuditAsync(AuditQuery query, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(query);
        return _grainFactory.GetGrain<IAuditGrain>(AccessKeys.Default).ListAsync(query, cancellationToken);
    }

    private IAccessGrain Access => _grainFactory.GetGrain<IAccessGrain>(AccessKeys.Default);

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 1 || _host is null)
        {
            return;
        }

        await DisposeHostAsync(_host, _logger).ConfigureAwait(false);
        _identity?.Dispose();
    }

    private static async IAsyncEnumerable<LogLine> FollowAsync(IVPodGrain grain, LogQuery query, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        await foreach (var line in grain.FollowLogsAsync(query, cancellationToken).WithCancellation(cancellationToken).ConfigureAwait(false))
        {
            yield return line;
        }
    }

    /// <summary>The vPod's grain reference; ids already checked keep theirs (up to <see cref="VPodStatusCache.DefaultCapacity"/>), since making one costs more than a call's own work.</summary>
    private IVPodGrain VPod(string id)
    {
        ArgumentNullException.ThrowIfNull(id);
        if (_vpodGrains.TryGetValue(id, out var known))
        {
            return known;
        }

        VPodIds.Validate(id);
        var grain = _grainFactory.GetGrain<IVPodGrain>(id);
        if (_vpodGrains.Count >= VPodStatusCache.DefaultCapacity)
        {
            _vpodGrains.Clear();
        }

        _vpodGrains[id] = grain;
        return grain;
    }

    private static async Task DisposeHostAsync(IHost host, ILogger logger)
    {
        using var stopping = new CancellationTokenSource(ShutdownTimeout);
        try
        {
            await host.StopAsync(stopping.Token).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is OperationCanceledException or OrleansException or TimeoutException or ObjectDisposedException)
        {
            LogStopFailed(logger, ex);
        }
        finally
        {
            host.Dispose();
        }
    }

    /// <summary>The identity directory to use: the option, the environment variable, or the default one for the first gateway if it exists.</summary>
    internal static string? ResolveIdentity(MetaNodeClientOptions options)
    {
        if (!string.IsNullOrWhiteSpace(options.Identity))
        {
            return options.Identity;
        }

        if (Environment.GetEnvironmentVariable(IdentityDirectory.EnvironmentVariable) is { Length: > 0 } fromEnvironment)
        {
            return IdentityDirectory.Exists(fromEnvironment)
                ? fromEnvironment
                : throw new OptionsValidationException(Options.DefaultName, typeof(MetaNodeClientOptions), [$"{IdentityDirectory.EnvironmentVariable} '{fromEnvironment}' is not an identity directory (it needs identity.crt, identity.key, ca.crt and credential)."]);
        }

        if (options.UsesDatabaseClustering || options.Gateways.Count == 0 || !GatewayAddress.TryParse(options.Gateways[0], out var gateway, out _))
        {
            return null;
        }

        var home = options.IdentityHome;
        var byName = IdentityDirectory.For(gateway.Host, gateway.Port, home);
        if (IdentityDirectory.Exists(byName))
        {
            return byName;
        }

        // localhost and 127.0.0.1 name the same embedded silo.
        if (string.Equals(gateway.Host, "localhost", StringComparison.OrdinalIgnoreCase))
        {
            var loopback = IdentityDirectory.For("127.0.0.1", gateway.Port, home);
            return IdentityDirectory.Exists(loopback) ? loopback : null;
        }

        return null;
    }

    /// <summary>What the client dials, for messages: the gateways, or the clustering database without its credentials.</summary>
    internal static string DescribeTarget(MetaNodeClientOptions options)
    {
        if (!options.UsesDatabaseClustering)
        {
            return options.Gateways.Count == 1
                ? $"gateway {options.Gateways[0]}"
                : $"gateways {string.Join(", ", options.Gateways)}";
        }

        try
        {
            var builder = new NpgsqlConnectionStringBuilder(options.ConnectionString);
            var port = builder.Port == 0 ? NpgsqlConnection.DefaultPort : builder.Port;
            return $"the clustering database {builder.Database ?? "(default)"} on {builder.Host ?? "localhost"}:{port}";
        }
        catch (ArgumentException)
        {
            return "the clustering database";
        }
    }

    private static string FirstLine(string message)
    {
        var line = message.Split('\n', 2)[0].Trim();
        return line.Length == 0 ? "no gateway answered" : line;
    }

    /// <summary>Keeps retrying the first connection until a deadline, remembering the last failure for the error message.</summary>
    private sealed class DeadlineRetryFilter(DateTimeOffset deadline, TimeSpan delay) : IClientConnectionRetryFilter
    {
        public Exception? LastError { get; private set; }

        public async Task<bool> ShouldRetryConnectionAttempt(Exception exception, CancellationToken cancellationToken)
        {
            LastError = exception;
            if (DateTimeOffset.UtcNow + delay >= deadline || cancellationToken.IsCancellationRequested)
            {
                return false;
            }

            await Task.Delay(delay, cancellationToken).ConfigureAwait(false);
            return true;
        }
    }

    /// <summary>
    /// The client host is owned by this object, not by the process: it must not take over Ctrl-C or SIGTERM the way the
    /// default console lifetime does. The application decides when to dispose the client.
    /// </summary>
    private sealed class PassiveHostLifetime : IHostLifetime
    {
        public Task WaitForStartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }
}

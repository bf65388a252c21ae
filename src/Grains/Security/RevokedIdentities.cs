using System.Collections.Frozen;
using MetaNode.Security;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace MetaNode.Grains.Security;

/// <summary>The access settings a silo runs with, section <c>MetaNode:Access</c>.</summary>
public sealed class AccessControlOptions
{
    /// <summary>How often each silo reads the revoked identities from the access grain.</summary>
    public TimeSpan RevocationPollInterval { get; set; } = TimeSpan.FromSeconds(2);
}

/// <summary>The serial numbers of revoked identities, as this silo last read them (every <see cref="AccessControlOptions.RevocationPollInterval"/>).</summary>
public sealed partial class RevokedIdentities(IGrainFactory grains, IOptions<AccessControlOptions> options, TimeProvider time, ILogger<RevokedIdentities> logger)
    : ILifecycleParticipant<ISiloLifecycle>, IDisposable
{
    private readonly CancellationTokenSource _stopping = new();
    private volatile FrozenSet<string> _revoked = FrozenSet<string>.Empty;
    private Task? _loop;

    /// <summary>Serials compare as hex numbers: case and leading zeros do not matter.</summary>
    public bool IsRevoked(string serial) => _revoked.Contains(serial.TrimStart('0'));

    /// <summary>Takes a revocation at once on this silo (the others read it within one poll).</summary>
    public void Add(string serial) => _revoked = _revoked.Append(serial.TrimStart('0')).ToFrozenSet(StringComparer.OrdinalIgnoreCase);

    public async Task RefreshAsync(CancellationToken cancellationToken)
    {
        var serials = await grains.GetGrain<IAccessGrain>(AccessKeys.Default).GetRevokedSerialsAsync(cancellationToken).ConfigureAwait(false);
        _revoked = serials.Select(s => s.TrimStart('0')).ToFrozenSet(StringComparer.OrdinalIgnoreCase);
    }

    public void Participate(ISiloLifecycle lifecycle) =>
        lifecycle.Subscribe(nameof(RevokedIdentities), ServiceLifecycleStage.Active, _ => Start(), async _ =>
        {
            await _stopping.CancelAsync().ConfigureAwait(false);
            if (_loop is not null)
            {
                await _loop.ConfigureAwait(false);
            }
        });

    /// <summary>Reads the list once before the silo serves (a failure is logged and retried by the loop), then every interval.</summary>
    private async Task Start()
    {
        await TryRefreshAsync().ConfigureAwait(false);
        _loop = Task.Run(LoopAsync);
    }

    private async Task TryRefreshAsync()
    {
        using var first = CancellationTokenSource.CreateLinkedTokenSource(_stopping.Token);
        first.CancelAfter(TimeSpan.FromSeconds(10));
        try
        {
            await RefreshAsync(first.Token).ConfigureAwait(false);
        }
        catch (Exception ex) when (!_stopping.IsCancellationRequested)
        {
            LogRefreshFailed(logger, ex.Message);
        }
    }

    private async Task LoopAsync()
    {
        var interval = options.Value.RevocationPollInterval;
        while (!_stopping.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(interval, time, _stopping.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }

            try
            {
                await RefreshAsync(_stopping.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (_stopping.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex)
            {
                LogRefreshFailed(logger, ex.Message);
            }
        }
    }

    public void Dispose() => _stopping.Dispose();
}

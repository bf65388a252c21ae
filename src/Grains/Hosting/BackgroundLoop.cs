namespace MetaNode.Grains.Hosting;

/// <summary>
/// Work a silo service runs in the background: started on the thread pool when the silo becomes active, cancelled and awaited
/// (within the stop's own deadline) when it stops.
/// </summary>
public sealed class BackgroundLoop
{
    /// <summary>A periodic loop reports the first failure of a run of failures, then every this many.</summary>
    public const int ReportEveryNthFailure = 10;

    private readonly CancellationTokenSource _stopping = new();
    private Task _running = Task.CompletedTask;

    /// <summary>Runs <paramref name="body"/> until it returns or <see cref="StopAsync"/> cancels the token it is given.</summary>
    public void Start(Func<CancellationToken, Task> body)
    {
        ArgumentNullException.ThrowIfNull(body);
        _running = Task.Run(() => body(_stopping.Token), CancellationToken.None);
    }

    /// <summary>
    /// Calls <paramref name="tick"/> at once, then every <paramref name="period"/> of <paramref name="time"/> after the
    /// previous call ended. A tick that throws is tried again next period; <paramref name="onFailure"/> hears of the first
    /// failure in a row and of every <see cref="ReportEveryNthFailure"/>th after it.
    /// </summary>
    public void StartPeriodic(TimeProvider time, TimeSpan period, Func<CancellationToken, Task> tick, Action<Exception> onFailure)
    {
        ArgumentNullException.ThrowIfNull(time);
        ArgumentNullException.ThrowIfNull(tick);
        ArgumentNullException.ThrowIfNull(onFailure);
        Start(cancellationToken => RunPeriodicAsync(time, period, tick, onFailure, cancellationToken));
    }

    /// <summary>Cancels the work and waits for it to end, or for <paramref name="cancellationToken"/>; never throws for the work's own end.</summary>
    public async Task StopAsync(CancellationToken cancellationToken)
    {
        await _stopping.CancelAsync();
        await _running.WaitAsync(cancellationToken).ContinueWith(_ => { }, TaskScheduler.Default);
    }

    private static async Task RunPeriodicAsync(TimeProvider time, TimeSpan period, Func<CancellationToken, Task> tick, Action<Exception> onFailure, CancellationToken cancellationToken)
    {
        var failures = 0;
        while (!cancellationToken.IsCancellationRequested)
        {
            try
            {
                await tick(cancellationToken);
                failures = 0;
            }
            catch (Exception exception) when (exception is not OperationCanceledException)
            {
                if (failures++ % ReportEveryNthFailure == 0)
                {
                    onFailure(exception);
                }
            }

            try
            {
                await Task.Delay(period, time, cancellationToken);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }
}

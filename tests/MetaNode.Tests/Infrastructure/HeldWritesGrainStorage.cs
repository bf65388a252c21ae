using System.Collections.Concurrent;
using System.Threading.Channels;
using Microsoft.Extensions.DependencyInjection;
using Orleans.Serialization;
using Orleans.Storage;

namespace MetaNode.Tests.Infrastructure;

/// <summary>
/// A grain storage in memory that counts its writes and, once <see cref="HoldWrites"/> was called, lets the test decide when
/// each write ends and how (<see cref="HeldWrite.Succeed"/> or <see cref="HeldWrite.Fail"/>). A write copies the state when it
/// begins (as a serializing storage does), checks the ETag as a real storage does, and stores the copy only when it succeeds.
/// </summary>
internal sealed class HeldWritesGrainStorage : IGrainStorage
{
    private readonly ConcurrentDictionary<(string State, GrainId Grain), (object Value, string ETag)> _stored = new();
    private readonly Channel<HeldWrite> _held = Channel.CreateUnbounded<HeldWrite>();
    private DeepCopier? _copier;
    private volatile bool _holding;
    private int _writes;

    /// <summary>Writes begun so far.</summary>
    public int Writes => Volatile.Read(ref _writes);

    /// <summary>Registers this storage under <paramref name="name"/> in a silo (its copier comes from the silo's serializer).</summary>
    public void AddTo(ISiloBuilder silo, string name) =>
        silo.Services.AddKeyedSingleton<IGrainStorage>(name, (services, _) =>
        {
            _copier = services.GetRequiredService<DeepCopier>();
            return this;
        });

    /// <summary>From now on every write waits for the test: <see cref="NextWriteAsync"/> hands it over.</summary>
    public void HoldWrites() => _holding = true;

    /// <summary>The next held write, once it has begun.</summary>
    public async Task<HeldWrite> NextWriteAsync(TimeSpan? timeout = null)
    {
        using var limit = new CancellationTokenSource(timeout ?? TimeSpan.FromSeconds(30));
        return await _held.Reader.ReadAsync(limit.Token);
    }

    /// <summary>What the last successful write stored, or null.</summary>
    public T? Stored<T>(string stateName, GrainId grainId) where T : class =>
        _stored.TryGetValue((stateName, grainId), out var stored) ? Copier.Copy((T)stored.Value) : null;

    private DeepCopier Copier => _copier ?? throw new InvalidOperationException("The storage is not registered in a silo.");

    public Task ReadStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        if (_stored.TryGetValue((stateName, grainId), out var stored))
        {
            grainState.State = Copier.Copy((T)stored.Value);
            grainState.ETag = stored.ETag;
            grainState.RecordExists = true;
        }

        return Task.CompletedTask;
    }

    public async Task WriteStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        Interlocked.Increment(ref _writes);
        var copy = Copier.Copy(grainState.State)!;
        var expected = grainState.ETag;
        if (_holding)
        {
            var write = new HeldWrite(copy);
            _held.Writer.TryWrite(write);
            await write.Outcome;
        }

        var key = (stateName, grainId);
        var current = _stored.TryGetValue(key, out var stored) ? stored.ETag : null;
        if (current != expected)
        {
            throw new InconsistentStateException($"ETag mismatch: stored {current}, given {expected}", current, expected);
        }

        var etag = ((current is null ? 0 : int.Parse(current, System.Globalization.CultureInfo.InvariantCulture)) + 1).ToString(System.Globalization.CultureInfo.InvariantCulture);
        _stored[key] = (copy, etag);
        grainState.ETag = etag;
        grainState.RecordExists = true;
    }

    public Task ClearStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        _stored.TryRemove((stateName, grainId), out _);
        grainState.ETag = null;
        grainState.RecordExists = false;
        return Task.CompletedTask;
    }

    /// <summary>A write the test ends: it holds the copy of the state the write carries.</summary>
    internal sealed class HeldWrite(object state)
    {
        private readonly TaskCompletionSource _outcome = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public object State { get; } = state;

        public Task Outcome => _outcome.Task;

        public void Succeed() => _outcome.TrySetResult();

        public void Fail(Exception exception) => _outcome.TrySetException(exception);
    }
}

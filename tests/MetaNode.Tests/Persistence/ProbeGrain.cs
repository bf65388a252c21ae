namespace MetaNode.Tests.Persistence;

/// <summary>The storage provider name the probe grain's state is kept under.</summary>
public static class ProbeStorage
{
    public const string Name = "ProbeStore";
    public const string StateName = "probe";
}

/// <summary>A grain that exercises grain persistence and reminders for the persistence-profile tests.</summary>
[Alias("MetaNode.Tests.Persistence.IProbeGrain")]
public interface IProbeGrain : IGrainWithStringKey
{
    [Alias("SetAsync")]
    Task SetAsync(string value);

    [Alias("GetAsync")]
    Task<ProbeSnapshot> GetAsync();

    [Alias("ClearAsync")]
    Task ClearAsync();

    [Alias("RegisterReminderAsync")]
    Task RegisterReminderAsync(string reminderName, TimeSpan dueTime, TimeSpan period);

    [Alias("GetReminderNamesAsync")]
    Task<IReadOnlyList<string>> GetReminderNamesAsync();

    [Alias("UnregisterRemindersAsync")]
    Task UnregisterRemindersAsync();
}

/// <summary>The probe grain's persisted state.</summary>
[GenerateSerializer, Alias("MetaNode.Tests.Persistence.ProbeState")]
public sealed class ProbeState
{
    [Id(0)] public string? Value { get; set; }
    [Id(1)] public int Writes { get; set; }
    [Id(2)] public int ReminderTicks { get; set; }
}

/// <summary>What the probe grain reports: its state and the activation that served the call.</summary>
[GenerateSerializer, Immutable, Alias("MetaNode.Tests.Persistence.ProbeSnapshot")]
public sealed record ProbeSnapshot(
    [property: Id(0)] string? Value,
    [property: Id(1)] int Writes,
    [property: Id(2)] int ReminderTicks,
    [property: Id(3)] bool RecordExists,
    [property: Id(4)] string? ETag,
    [property: Id(5)] Guid ActivationId);

[GrainType("metanode-test-probe")]
public sealed class ProbeGrain(
    [PersistentState(ProbeStorage.StateName, ProbeStorage.Name)] IPersistentState<ProbeState> state)
    : Grain, IProbeGrain, IRemindable
{
    private readonly Guid _activationId = Guid.NewGuid();

    public async Task SetAsync(string value)
    {
        state.State.Value = value;
        state.State.Writes++;
        await state.WriteStateAsync();
    }

    public Task<ProbeSnapshot> GetAsync() => Task.FromResult(new ProbeSnapshot(
        state.State.Value,
        state.State.Writes,
        state.State.ReminderTicks,
        state.RecordExists,
        state.Etag,
        _activationId));

    public Task ClearAsync() => state.ClearStateAsync();

    public async Task RegisterReminderAsync(string reminderName, TimeSpan dueTime, TimeSpan period) =>
        await this.RegisterOrUpdateReminder(reminderName, dueTime, period);

    public async Task<IReadOnlyList<string>> GetReminderNamesAsync()
    {
        var reminders = await this.GetReminders();
        return reminders.Select(r => r.ReminderName).Order(StringComparer.Ordinal).ToList();
    }

    public async Task UnregisterRemindersAsync()
    {
        foreach (var reminder in await this.GetReminders())
        {
            await this.UnregisterReminder(reminder);
        }
    }

    public async Task ReceiveReminder(string reminderName, TickStatus status)
    {
        state.State.ReminderTicks++;
        await state.WriteStateAsync();
    }
}

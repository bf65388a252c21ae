using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using MetaNode.Grains.Hosting;
using MetaNode.Grains.Runtime;
using MetaNode.Grains.VPods;
using MetaNode.Tests.Infrastructure;
using MetaNode.VPods;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Orleans.Storage;
using Orleans.TestingHost;

namespace MetaNode.Tests.VPods;

/// <summary>
/// A create records the vPod before the runtime is asked for anything (persist before act) and writes its record twice: on a
/// silo with SQLite storage whose runtime reads, at each call, what the storage holds.
/// </summary>
public sealed class VPodCreatePersistenceTests : IAsyncLifetime
{
    private readonly string _dataDirectory = Path.Combine(Path.GetTempPath(), "metanode-tests", "create-" + Guid.NewGuid().ToString("N")[..12]);
    private readonly StorageReadingRuntime _runtime = new();
    private InProcessTestCluster? _cluster;

    public async Task InitializeAsync() => _cluster = await new TestSiloBuilder()
        .WithMetaNode(_dataDirectory)
        .WithoutFileLogging()
        .WithSettings(new Dictionary<string, string?>
        {
            // No probe writes the record while the test reads it.
            ["MetaNode:VPods:ProbeInterval"] = "00:10:00",
            ["MetaNode:VPods:StartupProbeInterval"] = "00:10:00",
        })
        .ConfigureSilo(silo =>
        {
            silo.Services.RemoveAll<IVPodRuntimeResolver>();
            silo.Services.AddSingleton<IVPodRuntimeResolver>(services => _runtime.Attach(services));
        })
        .StartAsync();

    public Task DisposeAsync() => TestSiloBuilder.StopAsync(_cluster, _dataDirectory);

    [Fact]
    public async Task Create_RecordsTheIntentToRunBeforeTheRuntimeActs_AndWritesTheRecordTwice()
    {
        var id = "vpod-" + Guid.NewGuid().ToString("N")[..10];
        var grain = _cluster!.Client.GetGrain<IVPodGrain>(id);
        _runtime.NotStarted[id] = true;

        var created = await grain.CreateAsync(new VPodSpec { Name = "persist" + Guid.NewGuid().ToString("N")[..6], Command = ["/bin/true"] });

        Assert.Equal(VPodPhase.Starting, created.Phase);
        var provision = _runtime.Seen(id, "provision");
        Assert.NotNull(provision.Record);
        Assert.True(provision.Record!.DesiredRunning, "the record said the vPod should run before it was provisioned");
        Assert.Equal(VPodPhase.Provisioning, provision.Record.Phase);
        Assert.Equal([VPodTrigger.Create, VPodTrigger.Start], provision.Record.Transitions.Select(t => t.Trigger));
        Assert.Equal("1", provision.ETag);

        // The launch waits for the registry: by the start it lists the vPod as one to run, so a silo lost now finds it again.
        var start = _runtime.Seen(id, "start");
        Assert.Equal("1", start.ETag);
        Assert.True(start.Registered?.ShouldRun, "the registry listed the vPod as one to run before its workload was started");

        // Create and start in one write, provisioned with the launch in the second.
        var stored = await _runtime.ReadRecordAsync(id);
        Assert.Equal("2", stored.ETag);
        Assert.Equal(VPodPhase.Starting, stored.State!.Phase);
        Assert.Equal([VPodTrigger.Create, VPodTrigger.Start, VPodTrigger.Provisioned, VPodTrigger.Launched], stored.State!.Transitions.Select(t => t.Trigger));
        await grain.DeleteAsync(new StopOptions(Force: true));
    }

    [Fact]
    public async Task AWorkloadWithoutAnEndpoint_IsRunningOnceTheRuntimeSeesItRun_WithoutWaitingAStartupProbePeriod()
    {
        // The startup probe period here is ten minutes: only a first look right after the launch can make it Running in time.
        var id = "vpod-" + Guid.NewGuid().ToString("N")[..10];
        var grain = _cluster!.Client.GetGrain<IVPodGrain>(id);

        var created = await grain.CreateAsync(new VPodSpec { Name = "quick" + Guid.NewGuid().ToString("N")[..6], Command = ["/bin/true"] });

        Assert.Equal(VPodPhase.Starting, created.Phase);
        var running = await Eventually.WaitAsync(() => grain.GetStatusAsync(), s => s.Phase == VPodPhase.Running, "Running without a probe period", TimeSpan.FromSeconds(20));
        Assert.Equal(VPodTrigger.ProbeHealthy, running.Transitions[^1].Trigger);
        Assert.Equal(VPodPhase.Running, (await _runtime.ReadRecordAsync(id)).State!.Phase);
        await grain.DeleteAsync(new StopOptions(Force: true));
    }

    /// <summary>A runtime for every deployment method that succeeds at once and, at each call, reads the vPod's stored record and registry entry.</summary>
    private sealed class StorageReadingRuntime : IVPodRuntime, IVPodRuntimeResolver
    {
        private readonly ConcurrentDictionary<(string VPodId, string Call), (VPodState? Record, string? ETag, VPodSummary? Registered)> _seen = new();
        private IServiceProvider? _services;

        public DeploymentMethod Method => DeploymentMethod.Process;

        public StorageReadingRuntime Attach(IServiceProvider services)
        {
            _services = services;
            return this;
        }

        public IVPodRuntime Resolve(DeploymentMethod method) => this;

        public (VPodState? Record, string? ETag, VPodSummary? Registered) Seen(string vpodId, string call) =>
            _seen.TryGetValue((vpodId, call), out var seen) ? seen : throw new InvalidOperationException($"the runtime was not asked to {call} {vpodId}");

        private IGrainStorage Storage => _services!.GetRequiredKeyedService<IGrainStorage>(MetaNodeNames.VPodStorage);

        public async Task<GrainState<VPodState>> ReadRecordAsync(string vpodId)
        {
            var record = new GrainState<VPodState>();
            await Storage.ReadStateAsync("vpod", GrainId.Create("vpod", vpodId), record);
            return record;
        }

        private async Task RecordAsync(string vpodId, string call)
        {
            var record = await ReadRecordAsync(vpodId);
            var registry = new GrainState<VPodRegistryState>();
            await Storage.ReadStateAsync("registry", GrainId.Create("vpod-registry", VPodRegistryKeys.Default), registry);
            _seen[(vpodId, call)] = (record.RecordExists ? record.State : null, record.ETag, registry.State?.Entries.GetValueOrDefault(vpodId));
        }

        private RuntimeHandle Handle(string vpodId) => new(DeploymentMethod.Process, "stub-" + vpodId, "stub", DateTimeOffset.UtcNow);

        public async Task<RuntimeHandle> ProvisionAsync(string vpodId, VPodSpec spec, CancellationToken cancellationToken = default)
        {
            await RecordAsync(vpodId, "provision");
            return Handle(vpodId);
        }

        public async Task<RuntimeHandle> StartAsync(string vpodId, VPodSpec spec, RuntimeHandle? handle, CancellationToken cancellationToken = default)
        {
            await RecordAsync(vpodId, "start");
            return Handle(vpodId);
        }

        /// <summary>vPods whose workload this runtime reports as created but not started yet: no probe moves them on.</summary>
        public ConcurrentDictionary<string, bool> NotStarted { get; } = new(StringComparer.Ordinal);

        public Task<WorkloadObservation> InspectAsync(string vpodId, RuntimeHandle handle, CancellationToken cancellationToken = default) =>
            Task.FromResult(new WorkloadObservation(NotStarted.ContainsKey(vpodId) ? WorkloadState.Created : WorkloadState.Running));

        public Task<int?> StopAsync(string vpodId, RuntimeHandle handle, TimeSpan timeout, bool force, CancellationToken cancellationToken = default) =>
            Task.FromResult<int?>(0);

        public Task RemoveAsync(string vpodId, RuntimeHandle? handle, CancellationToken cancellationToken = default) => Task.CompletedTask;

        public Task WriteDataFilesAsync(string vpodId, VPodSpec spec, RuntimeHandle? handle, VPodDataFiles files, CancellationToken cancellationToken = default) =>
            Task.CompletedTask;

        public Task<WorkloadUsage?> GetUsageAsync(string vpodId, RuntimeHandle handle, VPodSpec spec, CancellationToken cancellationToken = default) =>
            Task.FromResult<WorkloadUsage?>(null);

        public Task<IReadOnlyList<LogLine>> ReadLogsAsync(string vpodId, RuntimeHandle? handle, LogQuery query, CancellationToken cancellationToken = default) =>
            Task.FromResult<IReadOnlyList<LogLine>>([]);

        public async IAsyncEnumerable<LogLine> FollowLogsAsync(string vpodId, RuntimeHandle? handle, LogQuery query, [EnumeratorCancellation] CancellationToken cancellationToken = default)
        {
            await Task.CompletedTask;
            yield break;
        }
    }
}

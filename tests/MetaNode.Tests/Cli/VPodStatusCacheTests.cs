using System.Reflection;
using MetaNode.Client;
using MetaNode.VPods;

namespace MetaNode.Tests.Cli;

/// <summary>The client's status cache against a scripted vPod grain: which tag it sends, and which status it returns.</summary>
public sealed class VPodStatusCacheTests
{
    private static TaggedVPodStatus Tagged(string id, VPodPhase phase) => new(Guid.NewGuid(), new VPodStatus { Id = id, Name = "n", Phase = phase });

    [Fact]
    public async Task SecondCall_SendsTheTag_AndReturnsTheHeldStatus_WhileTheSiloSaysUnchanged()
    {
        var grain = ScriptedVPodGrain.Create(out var script);
        var running = Tagged("vpod-1", VPodPhase.Running);
        script.Answers.Enqueue(running);
        script.Answers.Enqueue(null);
        var cache = new VPodStatusCache();

        var first = await cache.GetAsync("vpod-1", grain, CancellationToken.None);
        var second = await cache.GetAsync("vpod-1", grain, CancellationToken.None);

        Assert.Equal([Guid.Empty, running.Tag], script.Sent);
        Assert.Same(running.Status, first);
        Assert.Same(running.Status, second);
    }

    [Fact]
    public async Task ChangedStatus_IsReturned_AndItsTagSentNext()
    {
        var grain = ScriptedVPodGrain.Create(out var script);
        var running = Tagged("vpod-1", VPodPhase.Running);
        var stopped = Tagged("vpod-1", VPodPhase.Stopped);
        script.Answers.Enqueue(running);
        script.Answers.Enqueue(stopped);
        script.Answers.Enqueue(null);
        var cache = new VPodStatusCache();

        await cache.GetAsync("vpod-1", grain, CancellationToken.None);
        var changed = await cache.GetAsync("vpod-1", grain, CancellationToken.None);
        var again = await cache.GetAsync("vpod-1", grain, CancellationToken.None);

        Assert.Equal([Guid.Empty, running.Tag, stopped.Tag], script.Sent);
        Assert.Equal(VPodPhase.Stopped, changed.Phase);
        Assert.Same(stopped.Status, again);
    }

    [Fact]
    public async Task UnchangedAnswer_ReturnsTheStatusWhoseTagWasSent_EvenIfANewerOneArrivedMeanwhile()
    {
        var grain = ScriptedVPodGrain.Create(out var script);
        var running = Tagged("vpod-1", VPodPhase.Running);
        var stopped = Tagged("vpod-1", VPodPhase.Stopped);
        script.Answers.Enqueue(running);
        var cache = new VPodStatusCache();
        await cache.GetAsync("vpod-1", grain, CancellationToken.None);

        // Call A sends running's tag and waits; call B is sent the stopped status; then A is told "unchanged".
        var held = new TaskCompletionSource<TaggedVPodStatus?>(TaskCreationOptions.RunContinuationsAsynchronously);
        script.Answers.Enqueue(held.Task);
        var a = cache.GetAsync("vpod-1", grain, CancellationToken.None);
        script.Answers.Enqueue(stopped);
        var b = await cache.GetAsync("vpod-1", grain, CancellationToken.None);
        held.SetResult(null);

        Assert.Same(running.Status, await a);
        Assert.Same(stopped.Status, b);
        Assert.Equal([Guid.Empty, running.Tag, running.Tag], script.Sent);
    }

    [Fact]
    public async Task NotFound_ForgetsTheVPod_SoTheNextCallAsksAfresh()
    {
        var grain = ScriptedVPodGrain.Create(out var script);
        var running = Tagged("vpod-1", VPodPhase.Running);
        script.Answers.Enqueue(running);
        script.Answers.Enqueue(new VPodNotFoundException("vpod-1"));
        var again = Tagged("vpod-1", VPodPhase.Provisioning);
        script.Answers.Enqueue(again);
        var cache = new VPodStatusCache();

        await cache.GetAsync("vpod-1", grain, CancellationToken.None);
        await Assert.ThrowsAsync<VPodNotFoundException>(() => cache.GetAsync("vpod-1", grain, CancellationToken.None));
        var recreated = await cache.GetAsync("vpod-1", grain, CancellationToken.None);

        Assert.Equal([Guid.Empty, running.Tag, Guid.Empty], script.Sent);
        Assert.Same(again.Status, recreated);
    }

    [Fact]
    public async Task UnchangedAnswer_ToAClientHoldingNothing_IsAnError_NotAnEmptyStatus()
    {
        var grain = ScriptedVPodGrain.Create(out var script);
        script.Answers.Enqueue(null);
        var cache = new VPodStatusCache();

        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => cache.GetAsync("vpod-1", grain, CancellationToken.None));

        Assert.Equal("The silo answered that the status of vpod-1 is unchanged, but this client holds none.", error.Message);
        Assert.Equal(0, cache.Count);
    }

    [Fact]
    public async Task Capacity_BoundsTheHeldStatuses()
    {
        var grain = ScriptedVPodGrain.Create(out var script);
        var cache = new VPodStatusCache(capacity: 2);
        foreach (var id in new[] { "vpod-1", "vpod-2", "vpod-2", "vpod-3" })
        {
            script.Answers.Enqueue(Tagged(id, VPodPhase.Running));
            await cache.GetAsync(id, grain, CancellationToken.None);
            Assert.InRange(cache.Count, 1, 2);
        }

        Assert.Equal(1, cache.Count);
        Assert.Throws<ArgumentOutOfRangeException>(() => new VPodStatusCache(capacity: 0));
    }

    /// <summary>An <see cref="IVPodGrain"/> answering status-if-changed calls from a script, recording the tags sent.</summary>
    internal class ScriptedVPodGrain : DispatchProxy
    {
        public List<Guid> Sent { get; } = [];

        /// <summary>What the next calls get, in order: a status, null ("unchanged"), an exception to throw, or a task to return.</summary>
        public Queue<object?> Answers { get; } = new();

        public static IVPodGrain Create(out ScriptedVPodGrain script)
        {
            var proxy = Create<IVPodGrain, ScriptedVPodGrain>();
            script = (ScriptedVPodGrain)(object)proxy;
            return proxy;
        }

        protected override object? Invoke(MethodInfo? targetMethod, object?[]? args)
        {
            if (targetMethod?.Name != nameof(IVPodGrain.GetStatusIfChangedAsync))
            {
                throw new NotSupportedException($"The scripted vPod grain does not support {targetMethod}.");
            }

            Sent.Add((Guid)args![0]!);
            return Answers.Dequeue() switch
            {
                Task<TaggedVPodStatus?> pending => pending,
                Exception error => Task.FromException<TaggedVPodStatus?>(error),
                var answer => Task.FromResult((TaggedVPodStatus?)answer),
            };
        }
    }
}

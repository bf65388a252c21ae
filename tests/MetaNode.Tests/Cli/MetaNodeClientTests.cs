using System.Reflection;
using System.Runtime.CompilerServices;
using MetaNode.Client;
using MetaNode.Grains.Runtime;
using MetaNode.VPods;
using Microsoft.Extensions.Options;

namespace MetaNode.Tests.Cli;

public sealed class MetaNodeClientTests
{
    [Fact]
    public async Task ConnectAsync_FailsWithinTimeoutNamingGateway_WhenNothingListens()
    {
        var port = LoopbackPorts.Free();
        var options = new MetaNodeClientOptions
        {
            Gateways = [$"127.0.0.1:{port}"],
            ConnectTimeout = TimeSpan.FromSeconds(3),
        };

        // The wait only keeps a hanging connect from hanging the test: it gives up with its own error, not a TimeoutException.
        var error = await Assert.ThrowsAsync<MetaNodeConnectionException>(() => MetaNodeClient.ConnectAsync(options).WaitAsync(TimeSpan.FromSeconds(60)));

        Assert.Contains($"127.0.0.1:{port}", error.Message);
        Assert.DoesNotContain('\n', error.Message);
    }

    [Fact]
    public async Task ConnectAsync_ThrowsCancellation_WhenCallerCancelsBeforeTimeout()
    {
        var options = new MetaNodeClientOptions
        {
            Gateways = [$"127.0.0.1:{LoopbackPorts.Free()}"],
            ConnectTimeout = TimeSpan.FromSeconds(60),
        };
        using var cancel = new CancellationTokenSource(TimeSpan.FromMilliseconds(500));

        // Cancelled, not given up: the connect timeout (60 s) is longer than the guard that keeps a hang from hanging the test.
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => MetaNodeClient.ConnectAsync(options, cancel.Token).WaitAsync(TimeSpan.FromSeconds(30)));
    }

    [Fact]
    public async Task Cli_ExitsCancelled_WhenInterruptedWhileConnecting()
    {
        var port = LoopbackPorts.Free();
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        using var interrupt = new CancellationTokenSource(TimeSpan.FromMilliseconds(500));

        var code = await MetaNode.Cli.CliApp.RunAsync(["vpod", "list", "--gateway", $"127.0.0.1:{port}"], stdout, stderr, cancellationToken: interrupt.Token)
            .WaitAsync(TimeSpan.FromSeconds(15));

        Assert.Equal(MetaNode.Cli.ExitCodes.Cancelled, code);
        Assert.Equal("error: cancelled.", stderr.ToString().Trim());
    }

    [Theory]
    [InlineData("127.0.0.1", "missing port")]
    [InlineData("127.0.0.1:0", "port")]
    [InlineData("127.0.0.1:99999", "port")]
    [InlineData(":30000", "missing host")]
    [InlineData("::1:30000", "IPv6")]
    public async Task ConnectAsync_ThrowsNamingOptionAndValue_WhenGatewayIsInvalid(string gateway, string hint)
    {
        var options = new MetaNodeClientOptions { Gateways = [gateway] };

        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => MetaNodeClient.ConnectAsync(options));

        Assert.Contains(nameof(MetaNodeClientOptions.Gateways), error.Message);
        Assert.Contains($"'{gateway}'", error.Message);
        Assert.Contains(hint, error.Message);
    }

    [Fact]
    public void Validator_ReportsEveryProblem()
    {
        var result = new MetaNodeClientOptionsValidator().Validate(null, new MetaNodeClientOptions
        {
            Gateways = ["a"],
            ClusterId = " ",
            ConnectTimeout = TimeSpan.Zero,
        });

        Assert.True(result.Failed);
        Assert.Contains(result.Failures!, f => f.Contains(nameof(MetaNodeClientOptions.Gateways), StringComparison.Ordinal));
        Assert.Contains(result.Failures!, f => f.Contains(nameof(MetaNodeClientOptions.ClusterId), StringComparison.Ordinal));
        Assert.Contains(result.Failures!, f => f.Contains(nameof(MetaNodeClientOptions.ConnectTimeout), StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("127.0.0.1:30000", "127.0.0.1", 30000)]
    [InlineData("localhost:1", "localhost", 1)]
    [InlineData("silo-0.metanode.svc:30000", "silo-0.metanode.svc", 30000)]
    [InlineData("[::1]:30001", "::1", 30001)]
    public void GatewayAddress_Parses(string text, string host, int port)
    {
        var address = GatewayAddress.Parse(text);

        Assert.Equal(host, address.Host);
        Assert.Equal(port, address.Port);
        Assert.Equal(text, address.ToString());
    }

    [Fact]
    public void DescribeTarget_NamesDatabaseWithoutCredentials()
    {
        var text = MetaNodeClient.DescribeTarget(new MetaNodeClientOptions
        {
            ConnectionString = "Host=db.local;Port=5433;Database=metanode;Username=orleans;Password=s3cret",
        });

        Assert.Contains("db.local:5433", text);
        Assert.Contains("metanode", text);
        Assert.DoesNotContain("s3cret", text);
    }

    [Fact]
    public async Task DeployVPodAsync_CreatesGrainUnderFreshId()
    {
        var factory = FakeGrainFactory.Create(out var grains);
        await using var client = new MetaNodeClient(factory);
        var spec = new VPodSpec { Name = "trainer" };

        var status = await client.DeployVPodAsync(spec);

        var (id, grain) = Assert.Single(grains.VPods);
        Assert.Matches("^vpod-[0-9a-f]{8}$", id);
        Assert.Equal(id, status.Id);
        Assert.Same(spec, grain.CreatedWith);
    }

    [Theory]
    [InlineData(VPodAction.Start, "start")]
    [InlineData(VPodAction.Stop, "stop")]
    [InlineData(VPodAction.Restart, "restart")]
    [InlineData(VPodAction.Delete, "delete")]
    public async Task ManageVPodAsync_CallsMatchingGrainMethod(VPodAction action, string expected)
    {
        var factory = FakeGrainFactory.Create(out var grains);
        await using var client = new MetaNodeClient(factory);
        var options = new StopOptions(Force: true, TimeoutSeconds: 4);

        await client.ManageVPodAsync("vpod-12345678", action, options);

        var grain = grains.VPods["vpod-12345678"];
        Assert.Equal(expected, grain.LastCall);
        if (action is VPodAction.Stop or VPodAction.Restart or VPodAction.Delete)
        {
            Assert.Equal(options, grain.StopOptions);
        }
    }

    [Fact]
    public async Task Calls_RejectMalformedIds_BeforeReachingAGrain()
    {
        var factory = FakeGrainFactory.Create(out var grains);
        await using var client = new MetaNodeClient(factory);

        await Assert.ThrowsAsync<ArgumentException>(() => client.CheckVPodStatusAsync("Not-An-Id"));
        await Assert.ThrowsAsync<ArgumentException>(() => client.ManageVPodAsync("vpod_1", VPodAction.Start));
        Assert.Throws<ArgumentException>(() => client.FollowVPodLogsAsync("x", new LogQuery()));
        Assert.Empty(grains.VPods);
    }

    [Fact]
    public async Task RepeatedCalls_ReuseTheVPodsGrainReference_AndStillRefuseMalformedIds()
    {
        var factory = FakeGrainFactory.Create(out var grains);
        await using var client = new MetaNodeClient(factory);
        var id = (await client.DeployVPodAsync(new VPodSpec { Name = "n" })).Id;

        var statuses = new List<VPodStatus>();
        for (var i = 0; i < 5; i++)
        {
            statuses.Add(await client.CheckVPodStatusAsync(id));
        }

        Assert.All(statuses, s => Assert.Equal(VPodPhase.Running, s.Phase));
        Assert.Equal(1, grains.VPodReferencesMade);
        await Assert.ThrowsAsync<ArgumentException>(() => client.CheckVPodStatusAsync("Not-An-Id"));
        Assert.Equal(1, grains.VPodReferencesMade);
    }

    [Fact]
    public async Task CheckVPodStatusAsync_SurfacesNotFound_FromGrain()
    {
        var factory = FakeGrainFactory.Create(out _);
        await using var client = new MetaNodeClient(factory);

        var error = await Assert.ThrowsAsync<VPodNotFoundException>(() => client.CheckVPodStatusAsync("vpod-00000000"));
        Assert.Equal("vpod-00000000", error.VPodId);
    }

    [Fact]
    public async Task ListAndLogs_ReadRegistryAndGrain()
    {
        var factory = FakeGrainFactory.Create(out var grains);
        await using var client = new MetaNodeClient(factory);

        var list = await client.ListVPodsAsync();
        var logs = await client.GetVPodLogsAsync("vpod-12345678", new LogQuery(Tail: 5));
        var tailAsked = grains.VPods["vpod-12345678"].LogQuery?.Tail;
        var followed = new List<LogLine>();
        await foreach (var line in client.FollowVPodLogsAsync("vpod-12345678", new LogQuery()))
        {
            followed.Add(line);
        }

        Assert.Equal(VPodRegistryKeys.Default, grains.RegistryKey);
        Assert.Single(list);
        Assert.Equal("hello", Assert.Single(logs).Text);
        Assert.Equal(5, tailAsked);
        Assert.Equal(["hello", "again"], followed.Select(l => l.Text));
    }

    /// <summary>Grain references handed out by <see cref="FakeGrainFactory"/>.</summary>
    internal sealed class FakeGrains
    {
        public Dictionary<string, FakeVPodGrain> VPods { get; } = new(StringComparer.Ordinal);

        public Dictionary<string, IVPodGrain> References { get; } = new(StringComparer.Ordinal);

        public string? RegistryKey { get; set; }

        /// <summary>How many vPod grain references the client asked the factory for.</summary>
        public int VPodReferencesMade { get; set; }
    }

    /// <summary>An <see cref="IGrainFactory"/> that answers string-keyed <c>GetGrain</c> calls with in-memory grains.</summary>
    internal class FakeGrainFactory : DispatchProxy
    {
        private FakeGrains _grains = new();

        public static IGrainFactory Create(out FakeGrains grains)
        {
            var proxy = Create<IGrainFactory, FakeGrainFactory>();
            grains = ((FakeGrainFactory)(object)proxy)._grains;
            return proxy;
        }

        protected override object? Invoke(MethodInfo? targetMethod, object?[]? args)
        {
            if (targetMethod is { Name: nameof(IGrainFactory.GetGrain), IsGenericMethod: true } && args is [string key, ..])
            {
                var type = targetMethod.GetGenericArguments()[0];
                if (type == typeof(IVPodGrain))
                {
                    _grains.VPodReferencesMade++;
                    if (!_grains.References.TryGetValue(key, out var reference))
                    {
                        (reference, var state) = FakeVPodGrain.Create(key);
                        _grains.References[key] = reference;
                        _grains.VPods[key] = state;
                    }

                    return reference;
                }

                if (type == typeof(IVPodRegistryGrain))
                {
                    _grains.RegistryKey = key;
                    return FakeRegistryGrain.Create();
                }
            }

            throw new NotSupportedException($"The fake grain factory does not support {targetMethod}.");
        }
    }

    /// <summary>
    /// An in-memory <see cref="IVPodGrain"/>. A runtime proxy rather than a class implementing the interface, so the
    /// Orleans code generator does not register it as a grain class beside the real one.
    /// </summary>
    internal class FakeVPodGrain : DispatchProxy
    {
        private string _id = string.Empty;

        public VPodSpec? CreatedWith { get; private set; }

        public string? LastCall { get; private set; }

        public StopOptions? StopOptions { get; private set; }

        public LogQuery? LogQuery { get; private set; }

        public static (IVPodGrain Reference, FakeVPodGrain State) Create(string id)
        {
            var reference = Create<IVPodGrain, FakeVPodGrain>();
            var state = (FakeVPodGrain)(object)reference;
            state._id = id;
            return (reference, state);
        }

        protected override object? Invoke(MethodInfo? targetMethod, object?[]? args)
        {
            switch (targetMethod?.Name)
            {
                case nameof(IVPodGrain.CreateAsync):
                    CreatedWith = (VPodSpec)args![0]!;
                    return Status("create", VPodPhase.Provisioning);
                case nameof(IVPodGrain.StartAsync):
                    return Status("start", VPodPhase.Starting);
                case nameof(IVPodGrain.StopAsync):
                    StopOptions = (StopOptions)args![0]!;
                    return Status("stop", VPodPhase.Stopping);
                case nameof(IVPodGrain.RestartAsync):
                    StopOptions = (StopOptions)args![0]!;
                    return Status("restart", VPodPhase.Restarting);
                case nameof(IVPodGrain.DeleteAsync):
                    StopOptions = (StopOptions)args![0]!;
                    return Status("delete", VPodPhase.Deleted);
                case nameof(IVPodGrain.GetStatusAsync):
                    return CreatedWith is null
                        ? Task.FromException<VPodStatus>(new VPodNotFoundException(_id))
                        : Status("status", VPodPhase.Running);
                case nameof(IVPodGrain.GetStatusIfChangedAsync):
                    return CreatedWith is null
                        ? Task.FromException<TaggedVPodStatus?>(new VPodNotFoundException(_id))
                        : Task.FromResult<TaggedVPodStatus?>(new TaggedVPodStatus(Guid.NewGuid(), Status("status", VPodPhase.Running).Result));
                case nameof(IVPodGrain.GetLogsAsync):
                    LogQuery = (LogQuery)args![0]!;
                    return Task.FromResult<IReadOnlyList<LogLine>>([new LogLine(DateTimeOffset.UnixEpoch, LogStream.Stdout, "hello")]);
                case nameof(IVPodGrain.FollowLogsAsync):
                    LogQuery = (LogQuery)args![0]!;
                    return Follow((CancellationToken)args[1]!);
                default:
                    throw new NotSupportedException($"The fake vPod grain does not support {targetMethod}.");
            }
        }

        private static async IAsyncEnumerable<LogLine> Follow([EnumeratorCancellation] CancellationToken cancellationToken)
        {
            yield return new LogLine(DateTimeOffset.UnixEpoch, LogStream.Stdout, "hello");
            await Task.Yield();
            cancellationToken.ThrowIfCancellationRequested();
            yield return new LogLine(DateTimeOffset.UnixEpoch, LogStream.Stdout, "again");
        }

        private Task<VPodStatus> Status(string call, VPodPhase phase)
        {
            LastCall = call;
            return Task.FromResult(new VPodStatus { Id = _id, Name = CreatedWith?.Name ?? "n", Phase = phase });
        }
    }

    /// <summary>An in-memory <see cref="IVPodRegistryGrain"/> holding one vPod (a runtime proxy, like <see cref="FakeVPodGrain"/>).</summary>
    internal class FakeRegistryGrain : DispatchProxy
    {
        public static IVPodRegistryGrain Create() => Create<IVPodRegistryGrain, FakeRegistryGrain>();

        protected override object? Invoke(MethodInfo? targetMethod, object?[]? args) => targetMethod?.Name switch
        {
            nameof(IVPodRegistryGrain.ListAsync) =>
                Task.FromResult<IReadOnlyList<VPodSummary>>([new VPodSummary { Id = "vpod-12345678", Name = "n" }]),
            _ => throw new NotSupportedException($"The fake registry grain does not support {targetMethod}."),
        };
    }
}

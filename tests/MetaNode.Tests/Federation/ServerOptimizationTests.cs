using MetaNode.Chain;
using MetaNode.Federation;

namespace MetaNode.Tests.Federation;

/// <summary>
/// The server optimizers against hand calculations (Reddi et al., Algorithm 2, without bias correction): every expected number below
/// was worked out on paper from the update rules, not taken from the implementation.
/// </summary>
public sealed class ServerOptimizationTests
{
    private static FederatedModel Model(params double[] parameters) => new(1, 1, parameters);

    [Fact]
    public void Average_KeepsTheAggregateBitForBit_AndHasNoState()
    {
        var aggregate = Model(0.1 + 0.2, -3.25);
        var step = ServerOptimization.Step(ServerOptimizer.Average, Model(1, 1), aggregate, null);

        Assert.Same(aggregate, step.Model);
        Assert.Null(step.State);
    }

    [Fact]
    public void Momentum_MatchesTheHandCalculation_OverTwoRounds()
    {
        // η = 2, β = 0.5; g = (1, −1), r = (2, −0.5), m₀ = (0.5, 0.25).
        // d = (1, 0.5); m = (0.5·0.5 + 1, 0.5·0.25 + 0.5) = (1.25, 0.625); x = (1 + 2·1.25, −1 + 2·0.625) = (3.5, 0.25).
        var optimizer = new ServerOptimizer(ServerOptimizerKind.Momentum, 2, 0.5);
        var first = ServerOptimization.Step(optimizer, Model(1, -1), Model(2, -0.5), new ServerOptimizerState([0.5, 0.25], null));
        Assert.Equal([3.5, 0.25], first.Model.Parameters);
        Assert.Equal([1.25, 0.625], first.State!.Momentum);
        Assert.Null(first.State.SecondMoment);

        // Round 2: the clients return the global model unchanged (d = 0), and momentum alone moves it:
        // m = (0.625, 0.3125); x = (3.5 + 1.25, 0.25 + 0.625) = (4.75, 0.875).
        var second = ServerOptimization.Step(optimizer, first.Model, first.Model, first.State);
        Assert.Equal([4.75, 0.875], second.Model.Parameters);
        Assert.Equal([0.625, 0.3125], second.State!.Momentum);
    }

    [Fact]
    public void Momentum_WithoutState_StartsFromZero_AndWithBetaZeroIsAServerLearningRate()
    {
        // β = 0, η = 1.5: x = g + 1.5·(r − g) = 1 + 1.5·(3 − 1) = 4; 0 + 1.5·(−2) = −3.
        var step = ServerOptimization.Step(new ServerOptimizer(ServerOptimizerKind.Momentum, 1.5, 0), Model(1, 0), Model(3, -2), null);
        Assert.Equal([4.0, -3.0], step.Model.Parameters);
        Assert.Equal([2.0, -2.0], step.State!.Momentum);
    }

    [Fact]
    public void Adam_MatchesTheHandCalculation_OverTwoRounds()
    {
        // η = 1, β₁ = 0.5, β₂ = 0.75, τ = 0.5; g = (0, 0), r = (2, −4), m₀ = v₀ = 0.
        // d = (2, −4); m = 0.5·d = (1, −2); v = 0.25·d² = (1, 4); x = m / (√v + τ) = (1 / 1.5, −2 / 2.5) = (2/3, −0.8).
        var optimizer = new ServerOptimizer(ServerOptimizerKind.Adam, 1, 0.5, 0.75, 0.5);
        var first = ServerOptimization.Step(optimizer, Model(0, 0), Model(2, -4), null);
        Assert.Equal(2.0 / 3.0, first.Model.Parameters[0], 15);
        Assert.Equal(-0.8, first.Model.Parameters[1], 15);
        Assert.Equal([1.0, -2.0], first.State!.Momentum);
        Assert.Equal([1.0, 4.0], first.State.SecondMoment!);

        // Round 2 with d = 0: m = (0.5, −1); v = (0.75, 3); x = (2/3 + 0.5 / (√0.75 + 0.5), −0.8 − 1 / (√3 + 0.5))
        //   = (0.666667 + 0.366025, −0.8 − 0.448018) = (1.032692, −1.248018) (√0.75 = 0.8660254, √3 = 1.7320508).
        var second = ServerOptimization.Step(optimizer, first.Model, first.Model, first.State);
        Assert.Equal(1.0326920704511053, second.Model.Parameters[0], 12);
        Assert.Equal(-1.2480184754795918, second.Model.Parameters[1], 12);
        Assert.Equal([0.5, -1.0], second.State!.Momentum);
        Assert.Equal([0.75, 3.0], second.State.SecondMoment!);
    }

    [Fact]
    public void Step_RefusesAStateThatDoesNotFit_AndADivergedStep()
    {
        var momentum = new ServerOptimizer(ServerOptimizerKind.Momentum, 1, 0.5);
        var adam = new ServerOptimizer(ServerOptimizerKind.Adam, 1, 0.5, 0.75, 0.5);
        Assert.Throws<ArgumentException>(() => ServerOptimization.Step(momentum, Model(0, 0), Model(1, 1), new ServerOptimizerState([1], null)));
        Assert.Throws<ArgumentException>(() => ServerOptimization.Step(momentum, Model(0, 0), Model(1, 1), new ServerOptimizerState([1, 1], [1, 1])));
        Assert.Throws<ArgumentException>(() => ServerOptimization.Step(adam, Model(0, 0), Model(1, 1), new ServerOptimizerState([1, 1], null)));
        Assert.Throws<ArgumentException>(() => ServerOptimization.Step(adam, Model(0, 0), Model(1, 1), new ServerOptimizerState([1, 1], [1, -1])));
        Assert.Throws<ArgumentException>(() => ServerOptimization.Step(ServerOptimizer.Average, Model(0, 0), Model(1, 1), new ServerOptimizerState([1, 1], null)));
        Assert.Throws<ServerStepDivergedException>(() =>
            ServerOptimization.Step(new ServerOptimizer(ServerOptimizerKind.Momentum, 100, 0.9), Model(0, 0), Model(1, 1), new ServerOptimizerState([1e307, 0], null)));
    }

    [Fact]
    public void Encoding_IsTheDocumentedLayout_AndRoundTrips()
    {
        var optimizer = new ServerOptimizer(ServerOptimizerKind.Adam, 0.1, 0.9, 0.99, 0.01);
        var state = new ServerOptimizerState([1.0, -2.0], [0.5, 4.0]);
        var bytes = ServerOptimization.Encode(optimizer, state);

        Assert.Equal(44 + (4 * 8), bytes.Length);
        Assert.Equal("MNS1"u8.ToArray(), bytes[..4]);
        Assert.Equal([2, 0, 0, 0], bytes[4..8]);
        Assert.Equal([2, 0, 0, 0], bytes[8..12]);
        Assert.Equal(BitConverter.GetBytes(0.1), bytes[12..20]);
        Assert.Equal(BitConverter.GetBytes(0.01), bytes[36..44]);
        Assert.Equal(BitConverter.GetBytes(-2.0), bytes[52..60]);
        Assert.Equal(BitConverter.GetBytes(4.0), bytes[68..76]);
        var (decoded, decodedState) = ServerOptimization.Decode(bytes);
        Assert.Equal(optimizer, decoded);
        Assert.Equal(state.Momentum, decodedState.Momentum);
        Assert.Equal(state.SecondMoment, decodedState.SecondMoment);
        Assert.Equal(FederationHashing.ToHex(FederationHashing.Keccak256(bytes)), ServerOptimization.HashHex(optimizer, state));

        // Another setting is another hash: the signed state binds the optimizer's settings.
        Assert.NotEqual(ServerOptimization.HashHex(optimizer, state), ServerOptimization.HashHex(optimizer with { Tau = 0.001 }, state));
        Assert.Throws<FormatException>(() => ServerOptimization.Decode(bytes[..^1]));
    }

    [Theory]
    [InlineData(null, null, null, "avgm (η=1.5, β=0.3)")]
    [InlineData("avg", null, null, "avg")]
    [InlineData("avgm", "2", "0", "avgm (η=2, β=0)")]
    [InlineData("ADAM", null, null, "adam (η=0.1, β₁=0.9, β₂=0.99, τ=0.01)")]
    [InlineData("adam", "0.05", "0.8", "adam (η=0.05, β₁=0.8, β₂=0.99, τ=0.01)")]
    public void Parse_FillsTheDocumentedDefaults(string? kind, string? lr, string? momentum, string expected) =>
        Assert.Equal(expected, ServerOptimizer.Parse(kind, lr, momentum).ToString());

    [Theory]
    [InlineData("sgd", null, null, "server-optimizer 'sgd' is unknown")]
    [InlineData("avg", "2", null, "takes no server-lr")]
    [InlineData("avgm", "fast", null, "server-lr 'fast' is not a number")]
    public void Parse_RefusesWhatItCannotHonour(string kind, string? lr, string? momentum, string message) =>
        Assert.Contains(message, Assert.Throws<FormatException>(() => ServerOptimizer.Parse(kind, lr, momentum)).Message, StringComparison.Ordinal);

    [Fact]
    public void JobSpec_DefaultsToFedAvgM_AndRefusesBadSettingsNamingTheOption()
    {
        var spec = FederatedJobSpecParser.Parse(new FederatedJobArguments { ComputeCluster = "c", ValidatorCluster = "v", Dataset = "digits" });
        Assert.Equal(ServerOptimizer.Default, spec.ServerOptimizer);
        Assert.Equal(0, spec.ProximalMu);

        var error = Assert.Throws<InvalidJobSpecException>(() => FederatedJobSpecParser.Parse(new FederatedJobArguments
        {
            ComputeCluster = "c",
            ValidatorCluster = "v",
            Dataset = "digits",
            ServerOptimizer = "avgm",
            ServerLearningRate = "0",
            ServerMomentum = "1",
            ProximalMu = "-1",
        }));
        Assert.Contains("server-lr '0' is invalid", error.Message, StringComparison.Ordinal);
        Assert.Contains("server-momentum '1' is invalid", error.Message, StringComparison.Ordinal);
        Assert.Contains("proximal-mu '-1' is invalid", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ServerStateDigest_IsTheEip712DigestOfItsStruct()
    {
        // keccak256(0x19 0x01 ‖ domainSeparator ‖ keccak256(typeHash ‖ jobId ‖ round ‖ resultHash ‖ stateHash)), built here by hand.
        var domain = new RegistryDomain(31337, "0x5fbdb2315678afecb367f032d93f642f64180aa3");
        var result = "0x" + new string('a', 64);
        var state = "0x" + new string('b', 64);
        var typeHash = FederationHashing.Keccak256(System.Text.Encoding.UTF8.GetBytes("ServerState(bytes32 jobId,uint64 round,bytes32 resultHash,bytes32 stateHash)"));
        var job = new byte[32];
        "job-1"u8.CopyTo(job);
        var round = new byte[32];
        round[31] = 7;
        var structHash = FederationHashing.Keccak256([.. typeHash, .. job, .. round, .. Convert.FromHexString(result[2..]), .. Convert.FromHexString(state[2..])]);
        var expected = FederationHashing.Keccak256([0x19, 0x01, .. RegistryTypedData.DomainSeparator(domain), .. structHash]);

        Assert.Equal(expected, RegistryTypedData.ServerStateDigest(domain, "job-1", 7, result, state));
    }
}

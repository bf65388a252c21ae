using System.Globalization;

namespace MetaNode.Federation;

[GenerateSerializer, Alias("MetaNode.Federation.ServerOptimizerKind")]
public enum ServerOptimizerKind
{
    /// <summary>The aggregate is the next global model (plain federated averaging).</summary>
    Average = 0,

    /// <summary>FedAvgM: server momentum on the averaged delta.</summary>
    Momentum = 1,

    /// <summary>FedAdam: Adam's moments on the averaged delta, without bias correction, with adaptivity τ.</summary>
    Adam = 2,
}

/// <summary>
/// The server's step on a round's averaged delta <c>d = aggregate − global</c> (Reddi et al., "Adaptive Federated Optimization",
/// ICLR 2021), taken by every validator: <c>avg</c> keeps the aggregate; <c>avgm</c> <c>m ← β·m + d, x ← g + η·m</c>;
/// <c>adam</c> <c>m ← β₁·m + (1−β₁)·d, v ← β₂·v + (1−β₂)·d², x ← g + η·m / (√v + τ)</c>. The job fixes it; its state travels
/// with the job's rounds (<c>examples/workload-protocol.md</c>, "The server optimizer").
/// </summary>
[GenerateSerializer, Immutable, Alias("MetaNode.Federation.ServerOptimizer")]
public sealed record ServerOptimizer(
    [property: Id(0)] ServerOptimizerKind Kind,
    [property: Id(1)] double LearningRate = 1,
    [property: Id(2)] double Momentum = 0,
    [property: Id(3)] double Beta2 = 0,
    [property: Id(4)] double Tau = 0)
{
    public const string AverageName = "avg";
    public const string MomentumName = "avgm";
    public const string AdamName = "adam";
    public const double MaxLearningRate = 100;

    /// <summary>FedAvgM's defaults: η = 1.5, β = 0.3 (chosen on digits, Dirichlet(0.5), 10 vPods, 10 rounds, seeds 1–10 and 42).</summary>
    public const double DefaultMomentumLearningRate = 1.5;
    public const double DefaultMomentum = 0.3;

    /// <summary>FedAdam's defaults: η = 0.1, β₁ = 0.9, β₂ = 0.99, τ = 0.01.</summary>
    public const double DefaultAdamLearningRate = 0.1;
    public const double DefaultAdamBeta1 = 0.9;
    public const double DefaultAdamBeta2 = 0.99;
    public const double DefaultAdamTau = 0.01;

    public static ServerOptimizer Average { get; } = new(ServerOptimizerKind.Average);

    /// <summary>A job's server optimizer when none is named: FedAvgM with its defaults.</summary>
    public static ServerOptimizer Default { get; } = new(ServerOptimizerKind.Momentum, DefaultMomentumLearningRate, DefaultMomentum);

    /// <summary>True for the optimizers that carry state from round to round (momentum, moments).</summary>
    public bool HasState => Kind is ServerOptimizerKind.Momentum or ServerOptimizerKind.Adam;

    public string Name => NameOf(Kind);

    public static string NameOf(ServerOptimizerKind kind) => kind switch
    {
        ServerOptimizerKind.Average => AverageName,
        ServerOptimizerKind.Momentum => MomentumName,
        ServerOptimizerKind.Adam => AdamName,
        _ => kind.ToString(),
    };

    /// <summary>
    /// The optimizer from the <c>--server-optimizer</c>, <c>--server-lr</c> and <c>--server-momentum</c> options (null: not given).
    /// <c>avg</c> takes neither a learning rate nor a momentum; the others fill what is not given with their defaults. Throws
    /// <see cref="FormatException"/> naming the option and the value.
    /// </summary>
    public static ServerOptimizer Parse(string? kind, string? learningRate, string? momentum)
    {
        var name = kind?.Trim().ToLowerInvariant();
        var parsedKind = name switch
        {
            null or "" => Default.Kind,
            AverageName => ServerOptimizerKind.Average,
            MomentumName => ServerOptimizerKind.Momentum,
            AdamName => ServerOptimizerKind.Adam,
            _ => throw new FormatException($"server-optimizer '{kind}' is unknown: use {AverageName}, {MomentumName} or {AdamName}."),
        };

        if (parsedKind == ServerOptimizerKind.Average)
        {
            if (learningRate is not null || momentum is not null)
            {
                throw new FormatException($"server-optimizer '{AverageName}' takes no server-lr or server-momentum: the aggregate is the next model (for a server learning rate use '{MomentumName}' with server-momentum 0).");
            }

            return Average;
        }

        var eta = learningRate is null ? (parsedKind == ServerOptimizerKind.Adam ? DefaultAdamLearningRate : DefaultMomentumLearningRate) : Number("server-lr", learningRate);
        var beta = momentum is null ? (parsedKind == ServerOptimizerKind.Adam ? DefaultAdamBeta1 : DefaultMomentum) : Number("server-momentum", momentum);
        return parsedKind == ServerOptimizerKind.Adam
            ? new ServerOptimizer(ServerOptimizerKind.Adam, eta, beta, DefaultAdamBeta2, DefaultAdamTau)
            : new ServerOptimizer(ServerOptimizerKind.Momentum, eta, beta);
    }

    /// <summary>Every problem with the settings, each naming the option; empty when they are valid.</summary>
    public IReadOnlyList<string> Problems()
    {
        var problems = new List<string>();
        switch (Kind)
        {
            case ServerOptimizerKind.Average:
                if (LearningRate != 1 || Momentum != 0 || Beta2 != 0 || Tau != 0)
                {
                    problems.Add($"server-optimizer '{AverageName}' takes no settings (server-lr {Format(LearningRate)}, server-momentum {Format(Momentum)}).");
                }

                break;
            case ServerOptimizerKind.Momentum:
            case ServerOptimizerKind.Adam:
                if (!double.IsFinite(LearningRate) || LearningRate <= 0 || LearningRate > MaxLearningRate)
                {
                    problems.Add($"server-lr '{Format(LearningRate)}' is invalid: use a number above 0 and at most {Format(MaxLearningRate)}.");
                }

                if (!(Momentum is >= 0 and < 1))
                {
                    problems.Add($"server-momentum '{Format(Momentum)}' is invalid: use a number from 0 up to (not including) 1.");
                }

                if (Kind == ServerOptimizerKind.Momentum && (Beta2 != 0 || Tau != 0))
                {
                    problems.Add($"server-optimizer '{MomentumName}' has no second moment: beta2 and tau must be 0.");
                }

                if (Kind == ServerOptimizerKind.Adam && (!(Beta2 is >= 0 and < 1) || !(Tau is > 0 and <= 1)))
                {
                    problems.Add($"server-optimizer '{AdamName}' needs 0 ≤ beta2 < 1 and 0 < tau ≤ 1 (beta2 {Format(Beta2)}, tau {Format(Tau)}).");
                }

                break;
            default:
                problems.Add($"server-optimizer '{Kind}' is unknown: use {AverageName}, {MomentumName} or {AdamName}.");
                break;
        }

        return problems;
    }

    public override string ToString() => Kind switch
    {
        ServerOptimizerKind.Momentum => FormattableString.Invariant($"{MomentumName} (η={Format(LearningRate)}, β={Format(Momentum)})"),
        ServerOptimizerKind.Adam => FormattableString.Invariant($"{AdamName} (η={Format(LearningRate)}, β₁={Format(Momentum)}, β₂={Format(Beta2)}, τ={Format(Tau)})"),
        _ => Name,
    };

    private static double Number(string option, string text)
    {
        if (double.TryParse(text.Trim(), NumberStyles.Float, CultureInfo.InvariantCulture, out var value) && double.IsFinite(value))
        {
            return value;
        }

        throw new FormatException($"{option} '{text}' is not a number.");
    }

    private static string Format(double value) => value.ToString("R", CultureInfo.InvariantCulture);
}

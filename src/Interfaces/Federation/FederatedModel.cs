namespace MetaNode.Federation;

/// <summary>
/// A multinomial logistic-regression (softmax) model: <see cref="Parameters"/> holds <c>Classes × Features</c> weights,
/// class-major (class k's weight for feature j at <c>k * Features + j</c>), then <c>Classes</c> biases. The same layout is the
/// workload protocol's <c>weights</c> followed by <c>bias</c>, and the body of the canonical encoding.
/// </summary>
[GenerateSerializer, Alias("MetaNode.Federation.FederatedModel")]
public sealed class FederatedModel
{
    public FederatedModel(int classes, int features, double[] parameters)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(classes, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(features, 1);
        ArgumentNullException.ThrowIfNull(parameters);
        if (parameters.Length != ParameterCount(classes, features))
        {
            throw new ArgumentException($"A model of {classes} classes × {features} features has {ParameterCount(classes, features)} parameters; got {parameters.Length}.", nameof(parameters));
        }

        Classes = classes;
        Features = features;
        Parameters = parameters;
    }

    [Id(0)] public int Classes { get; }

    [Id(1)] public int Features { get; }

    [Id(2)] public double[] Parameters { get; }

    public int WeightCount => Classes * Features;

    public ReadOnlySpan<double> Weights => Parameters.AsSpan(0, WeightCount);

    public ReadOnlySpan<double> Bias => Parameters.AsSpan(WeightCount);

    public static int ParameterCount(int classes, int features) => checked(classes * (features + 1));

    /// <summary>The all-zero model every job starts from (so round 1 is the same everywhere for a seed).</summary>
    public static FederatedModel Zero(int classes, int features) => new(classes, features, new double[ParameterCount(classes, features)]);

    public static FederatedModel FromWeightsAndBias(int classes, int features, IReadOnlyList<double> weights, IReadOnlyList<double> bias)
    {
        ArgumentNullException.ThrowIfNull(weights);
        ArgumentNullException.ThrowIfNull(bias);
        if (weights.Count != classes * features || bias.Count != classes)
        {
            throw new ArgumentException($"Expected {classes * features} weights and {classes} biases; got {weights.Count} and {bias.Count}.");
        }

        var parameters = new double[ParameterCount(classes, features)];
        for (var i = 0; i < weights.Count; i++)
        {
            parameters[i] = weights[i];
        }

        for (var k = 0; k < bias.Count; k++)
        {
            parameters[weights.Count + k] = bias[k];
        }

        return new FederatedModel(classes, features, parameters);
    }

    /// <summary>
    /// Why <paramref name="update"/> cannot be an update of a <paramref name="classes"/> × <paramref name="features"/> model (another
    /// shape, parameters that do not fit it, a number that is not finite), or null when it can.
    /// </summary>
    public static string? UpdateProblem(int classes, int features, FederatedModel? update)
    {
        if (update?.Parameters is null)
        {
            return "the update carries no model";
        }

        if (update.Classes != classes || update.Features != features)
        {
            return $"the update is a {update.Classes} classes × {update.Features} features model; the job's model is {classes} × {features}";
        }

        if (update.Parameters.Length != (long)classes * (features + 1))
        {
            return $"the update has {update.Parameters.Length} parameters; a {classes} × {features} model has {(long)classes * (features + 1)} ({classes * features} weights and {classes} biases)";
        }

        var bad = Array.FindIndex(update.Parameters, p => !double.IsFinite(p));
        return bad >= 0 ? $"update parameter {bad} is {update.Parameters[bad]}, not a finite number" : null;
    }

    public bool HasSameShape(FederatedModel other) => other is not null && other.Classes == Classes && other.Features == Features;
}

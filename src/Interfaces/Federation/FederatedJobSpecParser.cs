using System.Globalization;

namespace MetaNode.Federation;

/// <summary>Parses and checks federated job specifications; every error names the option and the bad value, and all are reported at once.</summary>
public static class FederatedJobSpecParser
{
    public const ulong DefaultSeed = 42;
    public const ulong MaxSeed = (1UL << 53) - 1;
    public const int MaxRounds = 10_000;
    public const int MaxLocalEpochs = 1_000;
    public const int MaxBatchSize = 1_000_000;
    public const double MaxProximalMu = 100;
    public static readonly TimeSpan MaxRoundDeadline = TimeSpan.FromDays(1);

    /// <summary>Builds a spec from typed options; throws <see cref="InvalidJobSpecException"/> listing every problem.</summary>
    public static FederatedJobSpec Parse(FederatedJobArguments arguments)
    {
        ArgumentNullException.ThrowIfNull(arguments);
        var errors = new List<string>();
        var defaults = new FederatedJobSpec { ComputeCluster = string.Empty, ValidatorCluster = string.Empty, Dataset = string.Empty };
        var spec = new FederatedJobSpec
        {
            Algorithm = arguments.Algorithm is null ? defaults.Algorithm : ParseAlgorithm(arguments.Algorithm, errors),
            ComputeCluster = arguments.ComputeCluster?.Trim() ?? string.Empty,
            ValidatorCluster = arguments.ValidatorCluster?.Trim() ?? string.Empty,
            Dataset = arguments.Dataset?.Trim() ?? string.Empty,
            Partition = arguments.Partition is null ? defaults.Partition : Try(() => PartitionScheme.Parse(arguments.Partition), defaults.Partition, errors),
            Rounds = ParseInt("rounds", arguments.Rounds, defaults.Rounds, errors),
            LocalEpochs = ParseInt("local-epochs", arguments.LocalEpochs, defaults.LocalEpochs, errors),
            BatchSize = ParseInt("batch", arguments.BatchSize, defaults.BatchSize, errors),
            LearningRate = ParseDouble("lr", arguments.LearningRate, defaults.LearningRate, errors),
            MinParticipants = ParseInt("min-participants", arguments.MinParticipants, defaults.MinParticipants, errors),
            RoundDeadline = arguments.RoundDeadline is null ? defaults.RoundDeadline : ParseDuration("round-deadline", arguments.RoundDeadline, defaults.RoundDeadline, errors),
            Quorum = ParseInt("quorum", arguments.Quorum, defaults.Quorum, errors),
            Seed = ParseSeed(arguments.Seed, errors),
            Robust = arguments.Robust is null ? defaults.Robust : Try(() => AggregationRule.Parse(arguments.Robust), defaults.Robust, errors),
            TestFraction = ParseDouble("test-fraction", arguments.TestFraction, defaults.TestFraction, errors),
            SecurityThreshold = arguments.SecurityThreshold is null ? null : ParseInt("security-threshold", arguments.SecurityThreshold, 0, errors),
            Encryption = arguments.Encryption,
            StorageCluster = string.IsNullOrWhiteSpace(arguments.StorageCluster) ? null : arguments.StorageCluster.Trim(),
            ServerOptimizer = Try(() => ServerOptimizer.Parse(arguments.ServerOptimizer, arguments.ServerLearningRate, arguments.ServerMomentum), ServerOptimizer.Default, errors),
            ProximalMu = ParseDouble("proximal-mu", arguments.ProximalMu, 0, errors),
        };

        // An option that did not parse fell back to its (valid) default, so validation adds only the remaining problems.
        errors.AddRange(Validate(spec));
        return errors.Count == 0 ? spec : throw new InvalidJobSpecException(errors);
    }

    /// <summary>Every problem with a spec; empty when it is valid. Checks what the spec alone decides (not cluster sizes: see <see cref="ValidateAgainstClusters"/>).</summary>
    public static IReadOnlyList<string> Validate(FederatedJobSpec spec)
    {
        ArgumentNullException.ThrowIfNull(spec);
        var errors = new List<string>();
        if (spec.Algorithm is not (FederatedAlgorithm.FederatedAverage or FederatedAlgorithm.SecureAggregation))
        {
            errors.Add($"algorithm '{spec.Algorithm}' is invalid: use federated-average or secure-aggregation.");
        }

        if (string.IsNullOrWhiteSpace(spec.ComputeCluster))
        {
            errors.Add("compute-cluster is required: name the vPod cluster (or clusters, comma-separated) whose vPods train.");
        }
        else
        {
            var names = spec.ComputeCluster.Split(',').Select(name => name.Trim()).ToList();
            if (names.Any(name => name.Length == 0))
            {
                errors.Add($"compute-cluster '{spec.ComputeCluster}' is invalid: it names an empty cluster; separate cluster names with single commas.");
            }

            foreach (var duplicate in names.Where(name => name.Length > 0).GroupBy(name => name, StringComparer.Ordinal).Where(g => g.Count() > 1))
            {
                errors.Add($"compute-cluster '{duplicate.Key}' is named more than once.");
            }
        }

        if (spec.StorageCluster is { } storage && !MetaNode.Clusters.ClusterSpecValidation.IsValidName(storage))
        {
            errors.Add($"storage cluster '{storage}' is not a valid cluster name.");
        }

        if (string.IsNullOrWhiteSpace(spec.ValidatorCluster))
        {
            errors.Add("validator-cluster is required: name the vPod cluster whose vPods aggregate and sign.");
        }

        if (string.IsNullOrWhiteSpace(spec.Dataset))
        {
            errors.Add("dataset is required: digits, synthetic, an uploaded data set (sha256:HEX) or a path under the silo's data set root.");
        }
        else if (DatasetReferences.TryParseUpload(spec.Dataset, out var hash) && !DatasetReferences.IsValidHash(hash))
        {
            errors.Add($"dataset '{spec.Dataset}' is invalid: an uploaded data set is named sha256: and the 64 hex digits of its SHA-256.");
        }

        if (spec.Partition is null || spec.Partition.Kind is not (PartitionKind.Iid or PartitionKind.Dirichlet)
            || (spec.Partition.Kind == PartitionKind.Dirichlet && !(double.IsFinite(spec.Partition.Alpha) && spec.Partition.Alpha > 0)))
        {
            errors.Add($"partition '{spec.Partition}' is invalid: use iid or dirichlet:ALPHA with α > 0.");
        }

        Range(errors, "rounds", spec.Rounds, 1, MaxRounds);
        Range(errors, "local-epochs", spec.LocalEpochs, 1, MaxLocalEpochs);
        Range(errors, "batch", spec.BatchSize, 1, MaxBatchSize);
        if (!double.IsFinite(spec.LearningRate) || spec.LearningRate <= 0 || spec.LearningRate > 100)
        {
            errors.Add($"lr '{Format(spec.LearningRate)}' is invalid: use a number above 0 and at most 100.");
        }

        Range(errors, "min-participants", spec.MinParticipants, 1, int.MaxValue);
        if (spec.RoundDeadline <= TimeSpan.Zero || spec.RoundDeadline > MaxRoundDeadline)
        {
            errors.Add($"round-deadline '{spec.RoundDeadline}' is invalid: use a duration above 0 and at most 24h (e.g. 30s).");
        }

        Range(errors, "quorum", spec.Quorum, 1, int.MaxValue);
        if (spec.Seed > MaxSeed)
        {
            errors.Add($"seed '{spec.Seed}' is invalid: use an integer from 0 to {MaxSeed}.");
        }

        if (spec.Robust is null || spec.Robust.Kind == AggregationKind.None
            || (spec.Robust.Kind == AggregationKind.TrimmedMean && spec.Robust.TrimFraction is not (>= 0 and < 0.5)))
        {
            errors.Add($"robust '{spec.Robust}' is invalid: use none, median or trimmed-mean:F with 0 ≤ F < 0.5.");
        }

        if (spec.Algorithm == FederatedAlgorithm.SecureAggregation)
        {
            if (spec.Robust is { Kind: not AggregationKind.FederatedAverage })
            {
                errors.Add($"robust '{spec.Robust}' cannot be used with secure-aggregation: no validator ever sees a single update to screen; use --robust none.");
            }

            if (spec.SecurityThreshold is < 2)
            {
                errors.Add($"security-threshold '{spec.SecurityThreshold}' is invalid: use at least 2 (and at least a majority of the compute vPods).");
            }
        }
        else
        {
            if (spec.SecurityThreshold is { } threshold)
            {
                errors.Add($"security-threshold '{threshold}' applies only to secure-aggregation, not to federated-average.");
            }

            if (spec.Encryption)
            {
                errors.Add("encryption is not available with federated-average: validators read each update; use --algorithm secure-aggregation, whose shares are always sealed end to end and whose updates travel masked.");
            }
        }

        if (spec.ServerOptimizer is { } optimizer)
        {
            errors.AddRange(optimizer.Problems());
        }

        if (!double.IsFinite(spec.ProximalMu) || spec.ProximalMu < 0 || spec.ProximalMu > MaxProximalMu)
        {
            errors.Add($"proximal-mu '{Format(spec.ProximalMu)}' is invalid: use a number from 0 (no proximal term) to {Format(MaxProximalMu)}.");
        }

        if (!(spec.TestFraction is > 0 and < 1))
        {
            errors.Add($"test-fraction '{Format(spec.TestFraction)}' is invalid: use a number between 0 and 1 (e.g. 0.2).");
        }

        return errors;
    }

    /// <summary>The compute clusters a spec names: its comma-separated <see cref="FederatedJobSpec.ComputeCluster"/>, trimmed, empty names dropped, in the order given.</summary>
    public static IReadOnlyList<string> ComputeClusters(FederatedJobSpec spec)
    {
        ArgumentNullException.ThrowIfNull(spec);
        return spec.ComputeCluster.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries).Distinct(StringComparer.Ordinal).ToList();
    }

    /// <summary>
    /// What the spec needs of the clusters it names: at least <c>min-participants</c> compute vPods, and a quorum that is at most the
    /// number of validators and more than half of them (so two different results can never both reach it).
    /// </summary>
    public static IReadOnlyList<string> ValidateAgainstClusters(FederatedJobSpec spec, int computeVPods, int validatorVPods)
    {
        ArgumentNullException.ThrowIfNull(spec);
        var errors = new List<string>();
        if (spec.MinParticipants > computeVPods)
        {
            var clusters = ComputeClusters(spec);
            var named = clusters.Count == 1 ? $"compute cluster '{clusters[0]}'" : "compute clusters " + string.Join(", ", clusters.Select(c => $"'{c}'"));
            errors.Add($"min-participants '{spec.MinParticipants}' is more than the {computeVPods} vPods of {named}.");
        }

        if (spec.Quorum > validatorVPods)
        {
            errors.Add($"quorum '{spec.Quorum}' is more than the {validatorVPods} vPods of validator cluster '{spec.ValidatorCluster}'.");
        }
        else if (spec.Quorum * 2 <= validatorVPods)
        {
            errors.Add($"quorum '{spec.Quorum}' is not a majority of the {validatorVPods} validators of '{spec.ValidatorCluster}': use at least {validatorVPods / 2 + 1}.");
        }

        return errors;
    }

    /// <summary>Parses a duration (<see cref="Durations"/>: <c>500ms</c>, <c>30s</c>, <c>1h30m</c>, <c>hh:mm:ss</c>).</summary>
    public static bool TryParseDuration(string text, out TimeSpan duration) => Durations.TryParse(text, out duration);

    private static FederatedAlgorithm ParseAlgorithm(string text, List<string> errors)
    {
        switch (text.Trim().ToLowerInvariant())
        {
            case "federated-average":
            case "fedavg":
                return FederatedAlgorithm.FederatedAverage;
            case "secure-aggregation":
                return FederatedAlgorithm.SecureAggregation;
            default:
                errors.Add($"algorithm '{text}' is unknown: use federated-average or secure-aggregation.");
                return FederatedAlgorithm.FederatedAverage;
        }
    }

    private static int ParseInt(string option, string? text, int fallback, List<string> errors)
    {
        if (text is null)
        {
            return fallback;
        }

        if (int.TryParse(text.Trim(), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var value))
        {
            return value;
        }

        errors.Add($"{option} '{text}' is not a whole number.");
        return fallback;
    }

    private static double ParseDouble(string option, string? text, double fallback, List<string> errors)
    {
        if (text is null)
        {
            return fallback;
        }

        if (double.TryParse(text.Trim(), NumberStyles.Float, CultureInfo.InvariantCulture, out var value) && double.IsFinite(value))
        {
            return value;
        }

        errors.Add($"{option} '{text}' is not a number.");
        return fallback;
    }

    private static TimeSpan ParseDuration(string option, string text, TimeSpan fallback, List<string> errors)
    {
        if (TryParseDuration(text, out var duration))
        {
            return duration;
        }

        errors.Add($"{option} '{text}' is not a duration: use e.g. {Durations.Examples}.");
        return fallback;
    }

    private static ulong ParseSeed(string? text, List<string> errors)
    {
        if (text is null)
        {
            return DefaultSeed;
        }

        if (ulong.TryParse(text.Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out var seed) && seed <= MaxSeed)
        {
            return seed;
        }

        errors.Add($"seed '{text}' is invalid: use an integer from 0 to {MaxSeed}.");
        return DefaultSeed;
    }

    private static T Try<T>(Func<T> parse, T fallback, List<string> errors)
    {
        try
        {
            return parse();
        }
        catch (FormatException ex)
        {
            errors.Add(ex.Message);
            return fallback;
        }
    }

    private static void Range(List<string> errors, string option, int value, int min, int max)
    {
        if (value < min || value > max)
        {
            errors.Add(max == int.MaxValue
                ? $"{option} '{value}' is invalid: use at least {min}."
                : $"{option} '{value}' is invalid: use {min} to {max}.");
        }
    }

    private static string Format(double value) => value.ToString("R", CultureInfo.InvariantCulture);
}

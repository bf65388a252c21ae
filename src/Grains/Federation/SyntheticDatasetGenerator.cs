namespace MetaNode.Grains.Federation;

/// <summary>The parameters of the FedProx Synthetic(α, β) generator.</summary>
public sealed record SyntheticDatasetOptions
{
    public int Devices { get; init; } = 10;
    public int SamplesPerDevice { get; init; } = 200;
    public int Features { get; init; } = 60;
    public int Classes { get; init; } = 10;
    /// <summary>How much the devices' models differ.</summary>
    public double Alpha { get; init; } = 1;
    /// <summary>How much the devices' inputs differ.</summary>
    public double Beta { get; init; } = 1;
    public ulong Seed { get; init; } = 1;
}

/// <summary>Rows grouped by the device that generated them: device d owns rows <c>DeviceRows[d]</c>.</summary>
public sealed record SyntheticDataset(TabularDataset Dataset, IReadOnlyList<int[]> DeviceRows);

/// <summary>
/// Synthetic non-IID data after Li et al., "Federated Optimization in Heterogeneous Networks" (FedProx), Synthetic(α, β): device d
/// draws <c>u_d ~ N(0, α)</c>, <c>B_d ~ N(0, β)</c>, a model <c>W_d, b_d ~ N(u_d, 1)</c> and an input mean <c>v_d[j] ~ N(B_d, 1)</c>;
/// each of its rows has <c>x[j] ~ N(v_d[j], j^-1.2)</c> (j from 1) and label <c>argmax(W_d x + b_d)</c>. Deterministic for a seed.
/// </summary>
public static class SyntheticDatasetGenerator
{
    public static SyntheticDataset Generate(SyntheticDatasetOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentOutOfRangeException.ThrowIfLessThan(options.Devices, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(options.SamplesPerDevice, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(options.Features, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(options.Classes, 2);
        if (!(options.Alpha >= 0) || !(options.Beta >= 0))
        {
            throw new ArgumentOutOfRangeException(nameof(options), "α and β must be non-negative.");
        }

        var random = new DeterministicRandom(options.Seed);
        int d = options.Features, k = options.Classes;
        var rows = checked(options.Devices * options.SamplesPerDevice);
        var values = new double[checked(rows * d)];
        var labels = new int[rows];
        var deviceRows = new List<int[]>(options.Devices);
        var deviation = new double[d];
        for (var j = 0; j < d; j++)
        {
            deviation[j] = Math.Sqrt(Math.Pow(j + 1, -1.2));
        }

        var weights = new double[k * d];
        var bias = new double[k];
        var inputMean = new double[d];
        var row = 0;
        for (var device = 0; device < options.Devices; device++)
        {
            var u = random.NextNormal(0, Math.Sqrt(options.Alpha));
            var b = random.NextNormal(0, Math.Sqrt(options.Beta));
            for (var i = 0; i < weights.Length; i++)
            {
                weights[i] = random.NextNormal(u);
            }

            for (var c = 0; c < k; c++)
            {
                bias[c] = random.NextNormal(u);
            }

            for (var j = 0; j < d; j++)
            {
                inputMean[j] = random.NextNormal(b);
            }

            var owned = new int[options.SamplesPerDevice];
            for (var s = 0; s < options.SamplesPerDevice; s++, row++)
            {
                var x = values.AsSpan(row * d, d);
                for (var j = 0; j < d; j++)
                {
                    x[j] = random.NextNormal(inputMean[j], deviation[j]);
                }

                var best = 0;
                var bestScore = double.NegativeInfinity;
                for (var c = 0; c < k; c++)
                {
                    var score = bias[c];
                    for (var j = 0; j < d; j++)
                    {
                        score += weights[c * d + j] * x[j];
                    }

                    if (score > bestScore)
                    {
                        bestScore = score;
                        best = c;
                    }
                }

                labels[row] = best;
                owned[s] = row;
            }

            deviceRows.Add(owned);
        }

        return new SyntheticDataset(new TabularDataset("synthetic", d, values, labels, k), deviceRows);
    }
}

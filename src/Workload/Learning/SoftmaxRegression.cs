using MetaNode.Federation;

namespace MetaNode.Workload.Learning;

/// <summary>Hyper-parameters of one local training call; <paramref name="ProximalMu"/> is FedProx's μ (0: plain SGD).</summary>
public sealed record TrainingSettings(int Epochs, int BatchSize, double LearningRate, ulong Seed, double ProximalMu = 0);

/// <summary>Mean cross-entropy and accuracy of a model over a split.</summary>
public readonly record struct Evaluation(int SampleCount, double Loss, double Accuracy);

/// <summary>
/// Multinomial logistic regression (softmax) trained with mini-batch SGD. The model is <c>classes × features</c> weights
/// (class-major: weight of class k for feature j at <c>k * features + j</c>) followed by <c>classes</c> biases.
/// <para>
/// Every sum runs in one fixed order and nothing is vectorised, so the arithmetic is exactly that of the protocol's reference
/// algorithm (see <c>examples/workload-protocol.md</c>): another implementation that follows it gets the same bits on IEEE-754
/// doubles with the same <c>exp</c>.
/// </para>
/// </summary>
public static class SoftmaxRegression
{
    /// <summary>Standardizes <paramref name="values"/> in place: <c>(x - mean[j]) / scale[j]</c> per feature.</summary>
    public static void Standardize(double[] values, int features, IReadOnlyList<double> mean, IReadOnlyList<double> scale)
    {
        ArgumentNullException.ThrowIfNull(values);
        ArgumentNullException.ThrowIfNull(mean);
        ArgumentNullException.ThrowIfNull(scale);
        for (var offset = 0; offset < values.Length; offset += features)
        {
            for (var j = 0; j < features; j++)
            {
                values[offset + j] = (values[offset + j] - mean[j]) / scale[j];
            }
        }
    }

    /// <summary>
    /// Trains <paramref name="parameters"/> in place on the (standardized) rows: per epoch the row order is shuffled with
    /// <see cref="SplitMix64"/>, then each batch of consecutive rows in that order takes one step of
    /// <c>w -= (lr / batchRows) * Σ gradient</c>. With FedProx's μ &gt; 0 each step also pulls towards the starting model
    /// <c>w₀</c>: <c>w -= (lr / batchRows) * Σ gradient + (lr · μ) * (w - w₀)</c>, the gradient of <c>(μ/2)‖w − w₀‖²</c>
    /// (Li et al., MLSys 2020). Returns the number of steps taken.
    /// </summary>
    public static int Train(double[] parameters, int classes, int features, double[] values, int[] labels, TrainingSettings settings)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        ArgumentNullException.ThrowIfNull(values);
        ArgumentNullException.ThrowIfNull(labels);
        ArgumentNullException.ThrowIfNull(settings);
        CheckShape(parameters, classes, features, values, labels);

        var rows = labels.Length;
        var biasOffset = classes * features;
        var gradient = new double[parameters.Length];
        var probabilities = new double[classes];
        var order = new int[rows];
        for (var i = 0; i < rows; i++)
        {
            order[i] = i;
        }

        var proximal = settings.ProximalMu > 0;
        var anchor = proximal ? (double[])parameters.Clone() : [];
        var prox = settings.LearningRate * settings.ProximalMu;
        var random = new SplitMix64(settings.Seed);
        var steps = 0;
        for (var epoch = 0; epoch < settings.Epochs; epoch++)
        {
            random.Shuffle(order);
            for (var start = 0; start < rows; start += settings.BatchSize)
            {
                var end = Math.Min(start + settings.BatchSize, rows);
                Array.Clear(gradient);
                for (var position = start; position < end; position++)
                {
                    var row = order[position];
                    var x = values.AsSpan(row * features, features);
                    Probabilities(parameters, classes, features, x, probabilities);
                    probabilities[labels[row]] -= 1.0;
                    for (var k = 0; k < classes; k++)
                    {
                        var g = probabilities[k];
                        var weights = gradient.AsSpan(k * features, features);
                        for (var j = 0; j < features; j++)
                        {
                            weights[j] += g * x[j];
                        }

                        gradient[biasOffset + k] += g;
                    }
                }

                var step = settings.LearningRate / (end - start);
                if (proximal)
                {
                    for (var i = 0; i < parameters.Length; i++)
                    {
                        parameters[i] -= (step * gradient[i]) + (prox * (parameters[i] - anchor[i]));
                    }
                }
                else
                {
                    for (var i = 0; i < parameters.Length; i++)
                    {
                        parameters[i] -= step * gradient[i];
                    }
                }

                steps++;
            }
        }

        return steps;
    }

    /// <summary>Mean cross-entropy (<c>log Σ exp(z - max) - (z[y] - max)</c>, summed in row order) and accuracy (first arg max) over the rows.</summary>
    public static Evaluation Evaluate(double[] parameters, int classes, int features, double[] values, int[] labels)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        ArgumentNullException.ThrowIfNull(values);
        ArgumentNullException.ThrowIfNull(labels);
        CheckShape(parameters, classes, features, values, labels);
        if (labels.Length == 0)
        {
            return new Evaluation(0, 0, 0);
        }

        var logits = new double[classes];
        var totalLoss = 0.0;
        var correct = 0;
        for (var row = 0; row < labels.Length; row++)
        {
            Logits(parameters, classes, features, values.AsSpan(row * features, features), logits);
            var max = logits[0];
            var best = 0;
            for (var k = 1; k < classes; k++)
            {
                if (logits[k] > max)
                {
                    max = logits[k];
                    best = k;
                }
            }

            var sum = 0.0;
            for (var k = 0; k < classes; k++)
            {
                sum += Math.Exp(logits[k] - max);
            }

            totalLoss += Math.Log(sum) - (logits[labels[row]] - max);
            if (best == labels[row])
            {
                correct++;
            }
        }

        return new Evaluation(labels.Length, totalLoss / labels.Length, (double)correct / labels.Length);
    }

    private static void Probabilities(double[] parameters, int classes, int features, ReadOnlySpan<double> x, double[] output)
    {
        Logits(parameters, classes, features, x, output);
        var max = output[0];
        for (var k = 1; k < classes; k++)
        {
            if (output[k] > max)
            {
                max = output[k];
            }
        }

        var sum = 0.0;
        for (var k = 0; k < classes; k++)
        {
            output[k] = Math.Exp(output[k] - max);
            sum += output[k];
        }

        for (var k = 0; k < classes; k++)
        {
            output[k] /= sum;
        }
    }

    /// <summary><c>z[k] = b[k] + Σ_j w[k, j] * x[j]</c>, accumulated from the bias in feature order.</summary>
    private static void Logits(double[] parameters, int classes, int features, ReadOnlySpan<double> x, double[] output)
    {
        var biasOffset = classes * features;
        for (var k = 0; k < classes; k++)
        {
            var weights = parameters.AsSpan(k * features, features);
            var z = parameters[biasOffset + k];
            for (var j = 0; j < features; j++)
            {
                z += weights[j] * x[j];
            }

            output[k] = z;
        }
    }

    private static void CheckShape(double[] parameters, int classes, int features, double[] values, int[] labels)
    {
        if (parameters.Length != classes * (features + 1))
        {
            throw new ArgumentException($"{parameters.Length} parameters do not fit {classes} classes × ({features} features + bias).", nameof(parameters));
        }

        if (values.Length != labels.Length * features)
        {
            throw new ArgumentException($"{values.Length} values do not make {labels.Length} rows of {features} features.", nameof(values));
        }
    }
}

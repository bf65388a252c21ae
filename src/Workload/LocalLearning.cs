using System.Diagnostics;
using MetaNode.Workload.Learning;

namespace MetaNode.Workload;

/// <summary>A request the workload cannot act on; answered with 400 and the message.</summary>
public sealed class InvalidWorkloadRequestException(string message) : Exception(message);

/// <summary>What the protocol's endpoints do with the vPod's local partition. Raw rows never leave this class: only sums, models and metrics.</summary>
public sealed class LocalLearning(PartitionDirectory data, string vpodId)
{
    public const string TrainSplit = "train";
    public const string TestSplit = "test";
    public const int MaxEpochs = 1000;

    /// <summary>The largest seed the protocol carries: 2^53 - 1, so that every JSON implementation reads it exactly.</summary>
    public const ulong MaxSeed = (1UL << 53) - 1;

    public PartitionDirectory Data { get; } = data;

    /// <summary>Per-feature sums and sums of squares, and the row count, of a split.</summary>
    public StatisticsResponse Statistics(StatisticsRequest? request)
    {
        var split = Data.Load(SplitName(request?.Split, TrainSplit));
        var sum = new double[split.Features];
        var squares = new double[split.Features];
        for (var row = 0; row < split.Rows; row++)
        {
            var x = split.Values.AsSpan(row * split.Features, split.Features);
            for (var j = 0; j < x.Length; j++)
            {
                sum[j] += x[j];
                squares[j] += x[j] * x[j];
            }
        }

        return new StatisticsResponse(vpodId, split.Name, split.Rows, split.Features, sum, squares);
    }

    /// <summary>E epochs of mini-batch SGD on the train split, starting from the request's model; returns the trained model (not a delta).</summary>
    public TrainResponse Train(TrainRequest? request)
    {
        if (request is null)
        {
            throw new InvalidWorkloadRequestException("The body must be a JSON object with model and hyperParameters.");
        }

        CheckRound(request.Round);
        var hyper = request.HyperParameters ?? throw new InvalidWorkloadRequestException("hyperParameters is missing.");
        if (hyper.Epochs is < 1 or > MaxEpochs)
        {
            throw new InvalidWorkloadRequestException($"hyperParameters.epochs '{hyper.Epochs}' must be from 1 to {MaxEpochs}.");
        }

        if (hyper.BatchSize < 1)
        {
            throw new InvalidWorkloadRequestException($"hyperParameters.batchSize '{hyper.BatchSize}' must be at least 1.");
        }

        if (!double.IsFinite(hyper.LearningRate) || hyper.LearningRate <= 0)
        {
            throw new InvalidWorkloadRequestException($"hyperParameters.learningRate '{hyper.LearningRate}' must be a positive number.");
        }

        if (hyper.Seed > MaxSeed)
        {
            throw new InvalidWorkloadRequestException($"hyperParameters.seed '{hyper.Seed}' must be from 0 to {MaxSeed}.");
        }

        var split = Data.Load(TrainSplit);
        var parameters = Parameters(request.Model, split);
        var values = Standardized(split, request.Standardization);
        var started = Stopwatch.GetTimestamp();
        var steps = SoftmaxRegression.Train(parameters, split.Classes, split.Features, values, split.Labels, new TrainingSettings(hyper.Epochs, hyper.BatchSize, hyper.LearningRate, hyper.Seed));
        var elapsed = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
        var evaluation = SoftmaxRegression.Evaluate(parameters, split.Classes, split.Features, values, split.Labels);
        return new TrainResponse(
            request.Job ?? string.Empty,
            request.Round,
            vpodId,
            ToModel(parameters, split.Classes, split.Features),
            split.Rows,
            new TrainingMetricsDto(evaluation.Loss, evaluation.Accuracy, steps, Math.Round(elapsed, 3)));
    }

    /// <summary>Loss and accuracy of the request's model on a split (default <c>test</c>, the held-out split validators hold).</summary>
    public EvaluateResponse Evaluate(EvaluateRequest? request)
    {
        if (request is null)
        {
            throw new InvalidWorkloadRequestException("The body must be a JSON object with a model.");
        }

        CheckRound(request.Round);
        var split = Data.Load(SplitName(request.Split, TestSplit));
        var parameters = Parameters(request.Model, split);
        var values = Standardized(split, request.Standardization);
        var evaluation = SoftmaxRegression.Evaluate(parameters, split.Classes, split.Features, values, split.Labels);
        return new EvaluateResponse(vpodId, split.Name, evaluation.SampleCount, evaluation.Loss, evaluation.Accuracy);
    }

    private static string SplitName(string? requested, string fallback)
    {
        if (string.IsNullOrEmpty(requested))
        {
            return fallback;
        }

        if (requested is not (TrainSplit or TestSplit))
        {
            throw new InvalidWorkloadRequestException($"split '{requested}' is unknown: use '{TrainSplit}' or '{TestSplit}'.");
        }

        return requested;
    }

    private static void CheckRound(int round)
    {
        if (round < 0)
        {
            throw new InvalidWorkloadRequestException($"round '{round}' must not be negative.");
        }
    }

    private static double[] Parameters(ModelDto? model, LocalSplit split)
    {
        if (model is null)
        {
            throw new InvalidWorkloadRequestException("model is missing.");
        }

        if (model.Classes != split.Classes || model.Features != split.Features)
        {
            throw new InvalidWorkloadRequestException(
                $"model is {model.Classes} classes × {model.Features} features; the local data has {split.Classes} classes and {split.Features} features.");
        }

        if (model.Weights is null || model.Weights.Length != model.Classes * model.Features)
        {
            throw new InvalidWorkloadRequestException($"model.weights has {model.Weights?.Length ?? 0} values; expected classes × features = {model.Classes * model.Features}.");
        }

        if (model.Bias is null || model.Bias.Length != model.Classes)
        {
            throw new InvalidWorkloadRequestException($"model.bias has {model.Bias?.Length ?? 0} values; expected one per class ({model.Classes}).");
        }

        var parameters = new double[model.Classes * (model.Features + 1)];
        model.Weights.CopyTo(parameters, 0);
        model.Bias.CopyTo(parameters, model.Weights.Length);
        for (var i = 0; i < parameters.Length; i++)
        {
            if (!double.IsFinite(parameters[i]))
            {
                throw new InvalidWorkloadRequestException($"model parameter {i} is not a finite number.");
            }
        }

        return parameters;
    }

    private static double[] Standardized(LocalSplit split, StandardizationDto? standardization)
    {
        var values = (double[])split.Values.Clone();
        if (standardization is null)
        {
            return values;
        }

        if (standardization.Mean is null || standardization.Scale is null
            || standardization.Mean.Length != split.Features || standardization.Scale.Length != split.Features)
        {
            throw new InvalidWorkloadRequestException(
                $"standardization.mean and standardization.scale must each hold {split.Features} values; got {standardization.Mean?.Length ?? 0} and {standardization.Scale?.Length ?? 0}.");
        }

        for (var j = 0; j < split.Features; j++)
        {
            if (!double.IsFinite(standardization.Mean[j]) || !double.IsFinite(standardization.Scale[j]) || standardization.Scale[j] <= 0)
            {
                throw new InvalidWorkloadRequestException($"standardization for feature {j} (mean '{standardization.Mean[j]}', scale '{standardization.Scale[j]}') must be finite with a positive scale.");
            }
        }

        SoftmaxRegression.Standardize(values, split.Features, standardization.Mean, standardization.Scale);
        return values;
    }

    private static ModelDto ToModel(double[] parameters, int classes, int features) =>
        new(classes, features, parameters[..(classes * features)], parameters[(classes * features)..]);
}

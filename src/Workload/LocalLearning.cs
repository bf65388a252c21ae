using System.Diagnostics;
using MetaNode.Federation;
using MetaNode.Workload.Learning;
using MetaNode.Workloads;

namespace MetaNode.Workload;

/// <summary>A local training run: the trained model (not a delta), the train split's row count and the run's figures.</summary>
public sealed record LocalTraining(FederatedModel Model, int SampleCount, TrainingMetricsDto Metrics);

/// <summary>What the protocol's endpoints do with the vPod's local partition. Raw rows never leave this class: only sums, models and metrics.</summary>
public sealed class LocalLearning(PartitionDirectory data, string vpodId)
{
    public const int MaxEpochs = 1000;

    /// <summary>The largest seed the protocol carries: 2^53 - 1, so that every JSON implementation reads it exactly.</summary>
    public const ulong MaxSeed = (1UL << 53) - 1;

    public PartitionDirectory Data { get; } = data;

    /// <summary>Per-feature sums and sums of squares, and the row count, of a split.</summary>
    public StatisticsResponse Statistics(StatisticsRequest? request)
    {
        var split = Data.Load(SplitName(request?.Split, WorkloadProtocol.TrainSplit));
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

    /// <summary>
    /// E epochs of mini-batch SGD on the train split, starting from the request's model; returns the trained model. When the request
    /// gives <c>assignedSamples</c> and the train split holds another count, refuses (409) before training.
    /// </summary>
    public LocalTraining Train(TrainRequest? request)
    {
        if (request is null)
        {
            throw new InvalidWorkloadRequestException("The body must be a JSON object with job, model and hyperParameters.");
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

        if (hyper.ProximalMu is { } mu && (!double.IsFinite(mu) || mu < 0))
        {
            throw new InvalidWorkloadRequestException($"hyperParameters.proximalMu '{mu}' must be a finite number of at least 0.");
        }

        if (request.AssignedSamples is < 0)
        {
            throw new InvalidWorkloadRequestException($"assignedSamples '{request.AssignedSamples}' must not be negative.");
        }

        var split = Data.Load(WorkloadProtocol.TrainSplit);
        if (request.AssignedSamples is { } assigned && assigned != split.Rows)
        {
            throw new WorkloadConflictException($"the job assigned {assigned} samples; this vPod holds {split.Rows} training rows");
        }

        var parameters = Parameters(request.Model, split);
        var values = Standardized(split, request.Standardization);
        var started = Stopwatch.GetTimestamp();
        var steps = SoftmaxRegression.Train(parameters, split.Classes, split.Features, values, split.Labels, new TrainingSettings(hyper.Epochs, hyper.BatchSize, hyper.LearningRate, hyper.Seed, hyper.ProximalMu ?? 0));
        var elapsed = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
        if (!parameters.All(double.IsFinite))
        {
            throw new InvalidWorkloadRequestException(
                $"training diverged: the trained model holds a value that is not finite (hyperParameters.learningRate '{hyper.LearningRate}' is too large for this data).");
        }

        var evaluation = SoftmaxRegression.Evaluate(parameters, split.Classes, split.Features, values, split.Labels);
        return new LocalTraining(
            new FederatedModel(split.Classes, split.Features, parameters),
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
        var evaluation = Evaluate(SplitName(request.Split, WorkloadProtocol.TestSplit), request.Model, request.Standardization);
        return new EvaluateResponse(vpodId, evaluation.Split, evaluation.SampleCount, evaluation.Loss, evaluation.Accuracy);
    }

    /// <summary>Loss and accuracy of a model on a split of the local data.</summary>
    public EvaluationDto Evaluate(string splitName, ModelDto? model, StandardizationDto? standardization)
    {
        var split = Data.Load(splitName);
        var parameters = Parameters(model, split);
        var values = Standardized(split, standardization);
        var evaluation = SoftmaxRegression.Evaluate(parameters, split.Classes, split.Features, values, split.Labels);
        return new EvaluationDto(split.Name, evaluation.SampleCount, evaluation.Loss, evaluation.Accuracy);
    }

    private static string SplitName(string? requested, string fallback)
    {
        if (string.IsNullOrEmpty(requested))
        {
            return fallback;
        }

        if (requested is not (WorkloadProtocol.TrainSplit or WorkloadProtocol.TestSplit))
        {
            throw new InvalidWorkloadRequestException($"split '{requested}' is unknown: use '{WorkloadProtocol.TrainSplit}' or '{WorkloadProtocol.TestSplit}'.");
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
}

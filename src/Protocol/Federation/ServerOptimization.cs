using System.Buffers.Binary;

namespace MetaNode.Federation;

/// <summary>A server optimizer's state after a round: the first moment, and for FedAdam the second (parameter order, as the model).</summary>
public sealed record ServerOptimizerState(double[] Momentum, double[]? SecondMoment);

/// <summary>The server's step: the round's model, and the optimizer's state after it (null for <c>avg</c>).</summary>
public sealed record ServerStepResult(FederatedModel Model, ServerOptimizerState? State);

/// <summary>
/// The server optimizer's step on a round's aggregate (<c>examples/workload-protocol.md</c>, "The server optimizer"): every
/// operation in the stated order on doubles, so every validator — C# or Python — computes the same bytes. Pure.
/// </summary>
public static class ServerOptimization
{
    public const int HeaderLength = 44;
    public static ReadOnlySpan<byte> Magic => "MNS1"u8;

    /// <summary>
    /// One step from <paramref name="global"/> towards <paramref name="aggregate"/>. <paramref name="state"/> is the state after
    /// the previous round (null: zeros, the first round). Throws <see cref="ArgumentException"/> when the state does not fit the
    /// optimizer or the model, and <see cref="ServerStepDivergedException"/> when a value of the step is not finite.
    /// </summary>
    public static ServerStepResult Step(ServerOptimizer optimizer, FederatedModel global, FederatedModel aggregate, ServerOptimizerState? state)
    {
        ArgumentNullException.ThrowIfNull(optimizer);
        ArgumentNullException.ThrowIfNull(global);
        ArgumentNullException.ThrowIfNull(aggregate);
        if (optimizer.Problems() is { Count: > 0 } problems)
        {
            throw new ArgumentException(string.Join(" ", problems), nameof(optimizer));
        }

        if (!global.HasSameShape(aggregate))
        {
            throw new ArgumentException($"The aggregate is {aggregate.Classes}×{aggregate.Features}; the global model is {global.Classes}×{global.Features}.", nameof(aggregate));
        }

        if (!optimizer.HasState)
        {
            return state is null ? new ServerStepResult(aggregate, null) : throw new ArgumentException($"server optimizer '{optimizer.Name}' has no state.", nameof(state));
        }

        var n = global.Parameters.Length;
        var adam = optimizer.Kind == ServerOptimizerKind.Adam;
        CheckState(optimizer, n, state);
        var m = state is null ? new double[n] : (double[])state.Momentum.Clone();
        var v = adam ? (state?.SecondMoment is { } second ? (double[])second.Clone() : new double[n]) : null;
        var g = global.Parameters;
        var r = aggregate.Parameters;
        var x = new double[n];
        var eta = optimizer.LearningRate;
        var beta1 = optimizer.Momentum;
        var oneMinusBeta1 = 1.0 - beta1;
        var beta2 = optimizer.Beta2;
        var oneMinusBeta2 = 1.0 - beta2;
        var tau = optimizer.Tau;
        for (var i = 0; i < n; i++)
        {
            var d = r[i] - g[i];
            if (adam)
            {
                m[i] = (beta1 * m[i]) + (oneMinusBeta1 * d);
                v![i] = (beta2 * v[i]) + (oneMinusBeta2 * (d * d));
                x[i] = g[i] + ((eta * m[i]) / (Math.Sqrt(v[i]) + tau));
            }
            else
            {
                m[i] = (beta1 * m[i]) + d;
                x[i] = g[i] + (eta * m[i]);
            }

            if (!double.IsFinite(x[i]) || !double.IsFinite(m[i]) || (adam && !double.IsFinite(v![i])))
            {
                throw new ServerStepDivergedException($"the server step diverged at parameter {i} (model {x[i]}, momentum {m[i]}{(adam ? $", second moment {v![i]}" : string.Empty)}): lower the server learning rate.");
            }
        }

        return new ServerStepResult(new FederatedModel(global.Classes, global.Features, x), new ServerOptimizerState(m, v));
    }

    /// <summary>Checks a state against the optimizer and the parameter count; throws <see cref="ArgumentException"/> naming what is wrong.</summary>
    public static void CheckState(ServerOptimizer optimizer, int parameters, ServerOptimizerState? state)
    {
        if (StateProblem(optimizer, parameters, state) is { } problem)
        {
            throw new ArgumentException(problem, nameof(state));
        }
    }

    /// <summary>What is wrong with a state for the optimizer and the parameter count (null: nothing; a null state is zeros).</summary>
    public static string? StateProblem(ServerOptimizer optimizer, int parameters, ServerOptimizerState? state)
    {
        ArgumentNullException.ThrowIfNull(optimizer);
        if (state is null)
        {
            return null;
        }

        if (!optimizer.HasState)
        {
            return $"server optimizer '{optimizer.Name}' has no state.";
        }

        if (state.Momentum is null || state.Momentum.Length != parameters)
        {
            return $"the momentum has {state.Momentum?.Length ?? 0} values; the model has {parameters} parameters.";
        }

        if (state.Momentum.Any(value => !double.IsFinite(value)))
        {
            return "the momentum holds a value that is not finite.";
        }

        if (optimizer.Kind != ServerOptimizerKind.Adam)
        {
            return state.SecondMoment is null ? null : $"server optimizer '{optimizer.Name}' has no second moment.";
        }

        if (state.SecondMoment is null || state.SecondMoment.Length != parameters)
        {
            return $"the second moment has {state.SecondMoment?.Length ?? 0} values; the model has {parameters} parameters.";
        }

        return state.SecondMoment.Any(value => !double.IsFinite(value) || value < 0) ? "the second moment holds a value that is negative or not finite." : null;
    }

    /// <summary>
    /// The state's canonical bytes, binding the optimizer's settings:
    /// <code>
    /// offset 0   "MNS1"
    /// offset 4   uint32 kind (1 avgm, 2 adam), little-endian
    /// offset 8   uint32 n, little-endian
    /// offset 12  float64 η, β₁ (avgm: β), β₂, τ (avgm: 0.0, 0.0), little-endian
    /// offset 44  float64 × n m; then for adam float64 × n v
    /// </code>
    /// </summary>
    public static byte[] Encode(ServerOptimizer optimizer, ServerOptimizerState state)
    {
        ArgumentNullException.ThrowIfNull(optimizer);
        ArgumentNullException.ThrowIfNull(state);
        if (!optimizer.HasState)
        {
            throw new ArgumentException($"server optimizer '{optimizer.Name}' has no state to encode.", nameof(optimizer));
        }

        var n = state.Momentum.Length;
        CheckState(optimizer, n, state);
        var adam = optimizer.Kind == ServerOptimizerKind.Adam;
        var bytes = new byte[HeaderLength + ((adam ? 2 : 1) * n * sizeof(double))];
        Magic.CopyTo(bytes);
        BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(4), (uint)optimizer.Kind);
        BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(8), (uint)n);
        BinaryPrimitives.WriteDoubleLittleEndian(bytes.AsSpan(12), optimizer.LearningRate);
        BinaryPrimitives.WriteDoubleLittleEndian(bytes.AsSpan(20), optimizer.Momentum);
        BinaryPrimitives.WriteDoubleLittleEndian(bytes.AsSpan(28), optimizer.Beta2);
        BinaryPrimitives.WriteDoubleLittleEndian(bytes.AsSpan(36), optimizer.Tau);
        var offset = HeaderLength;
        foreach (var vector in adam ? [state.Momentum, state.SecondMoment!] : new[] { state.Momentum })
        {
            foreach (var value in vector)
            {
                BinaryPrimitives.WriteDoubleLittleEndian(bytes.AsSpan(offset), value);
                offset += sizeof(double);
            }
        }

        return bytes;
    }

    /// <summary>Reads canonical bytes back: the optimizer they were written for and its state; <see cref="FormatException"/> when they are not one.</summary>
    public static (ServerOptimizer Optimizer, ServerOptimizerState State) Decode(ReadOnlySpan<byte> bytes)
    {
        if (bytes.Length < HeaderLength || !bytes[..4].SequenceEqual(Magic))
        {
            throw new FormatException("Not a server optimizer state: it must start with \"MNS1\".");
        }

        var kind = BinaryPrimitives.ReadUInt32LittleEndian(bytes[4..]);
        if (kind is not ((uint)ServerOptimizerKind.Momentum or (uint)ServerOptimizerKind.Adam))
        {
            throw new FormatException($"Server optimizer kind {kind} has no state.");
        }

        var adam = kind == (uint)ServerOptimizerKind.Adam;
        var n = BinaryPrimitives.ReadUInt32LittleEndian(bytes[8..]);
        if ((long)n * (adam ? 2 : 1) * sizeof(double) != bytes.Length - HeaderLength)
        {
            throw new FormatException($"A state of {n} parameters does not fit {bytes.Length} bytes.");
        }

        var optimizer = new ServerOptimizer(
            (ServerOptimizerKind)kind,
            BinaryPrimitives.ReadDoubleLittleEndian(bytes[12..]),
            BinaryPrimitives.ReadDoubleLittleEndian(bytes[20..]),
            BinaryPrimitives.ReadDoubleLittleEndian(bytes[28..]),
            BinaryPrimitives.ReadDoubleLittleEndian(bytes[36..]));
        var m = new double[n];
        var v = adam ? new double[n] : null;
        for (var i = 0; i < n; i++)
        {
            m[i] = BinaryPrimitives.ReadDoubleLittleEndian(bytes[(HeaderLength + (i * sizeof(double)))..]);
            if (v is not null)
            {
                v[i] = BinaryPrimitives.ReadDoubleLittleEndian(bytes[(HeaderLength + ((int)(n + i) * sizeof(double)))..]);
            }
        }

        var state = new ServerOptimizerState(m, v);
        if (optimizer.Problems() is { Count: > 0 } problems)
        {
            throw new FormatException(string.Join(" ", problems));
        }

        return StateProblem(optimizer, (int)n, state) is { } problem ? throw new FormatException(problem) : (optimizer, state);
    }

    /// <summary>Keccak-256 of the canonical encoding, <c>0x</c> + 64 hex digits: the <c>stateHash</c> validators sign.</summary>
    public static string HashHex(ServerOptimizer optimizer, ServerOptimizerState state) => FederationHashing.ToHex(FederationHashing.Keccak256(Encode(optimizer, state)));
}

/// <summary>The server's step produced a value that is not finite: the round has no result.</summary>
public sealed class ServerStepDivergedException(string message) : Exception(message);

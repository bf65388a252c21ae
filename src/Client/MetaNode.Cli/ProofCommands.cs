using System.CommandLine;
using System.Globalization;
using MetaNode.Chain;
using MetaNode.Client.Proofs;
using MetaNode.Proofs;
using static MetaNode.Cli.CliApp;

namespace MetaNode.Cli;

/// <summary><c>proof export|verify</c>: a round's proof as a self-contained bundle, and its check against a chain alone (<c>examples/round-proof.md</c>).</summary>
internal static class ProofCommands
{
    /// <summary>The most a gateway may send for a model's CAR.</summary>
    private const long MaxCarBytes = 1L << 30;

    private static readonly TimeSpan NetworkTimeout = TimeSpan.FromSeconds(30);

    public static Command Build(CliContext context)
    {
        var proof = new Command("proof", "Proofs of finalized rounds that anyone can check from the chain alone.");
        proof.Subcommands.Add(Export(context));
        proof.Subcommands.Add(Verify(context));
        return proof;
    }

    private static Command Export(CliContext context)
    {
        var job = new Option<string>("--job") { Description = "The job.", HelpName = "id", Required = true };
        var round = new Option<int>("--round") { Description = "The finalized round.", HelpName = "N", Required = true };
        var outPath = new Option<string>("--out") { Description = "The bundle file to write (JSON).", HelpName = "FILE", Required = true };
        var withoutModel = new Option<bool>("--without-model") { Description = "Leave the model's blocks out; a verifier then fetches them by CID from a gateway." };
        var export = new Command("export", "Write a round's proof: the registry's record, the validators' signatures, every signed receipt with its Merkle branch, the model by CID.")
        {
            job, round, outPath, withoutModel,
        };
        export.SetAction((parseResult, cancellationToken) => context.ExecuteAsync(parseResult, cancellationToken, async (output, ct) =>
        {
            var jobId = parseResult.GetValue(job) is { Length: > 0 } j ? j : throw new CliUsageException("--job must name a job.");
            var number = parseResult.GetValue(round) is var n and >= 1 ? n : throw new CliUsageException($"--round must be 1 or more; got {parseResult.GetValue(round)}.");
            var path = Path.GetFullPath(parseResult.GetValue(outPath)!);
            await using var client = await context.ConnectAsync(parseResult, ct).ConfigureAwait(false);
            var status = await client.GetJobStatusAsync(jobId, ct).ConfigureAwait(false);
            var result = status.Results.FirstOrDefault(r => r.Round == number)
                ?? throw new InvalidOperationException($"round {number} of job '{jobId}' is not finalized.");
            var onChain = await client.GetRoundAsync(jobId, number, ct).ConfigureAwait(false);
            var model = parseResult.GetValue(withoutModel)
                ? null
                : await client.GetJobModelAsync(jobId, number, ct).ConfigureAwait(false)
                    ?? throw new InvalidOperationException($"the model of round {number} of job '{jobId}' is not in the model store; export --without-model to leave it to a gateway.");
            var bundle = await RoundProofBuilder.BuildAsync(new RoundProofSource(status.ChainId, result, onChain, status.Addresses, model), ct).ConfigureAwait(false);
            var bytes = RoundProofJson.Write(bundle);
            var temporary = path + ".tmp";
            await File.WriteAllBytesAsync(temporary, bytes, ct).ConfigureAwait(false);
            File.Move(temporary, path, overwrite: true);
            if (output.Format == OutputFormat.Json)
            {
                output.Json(new ProofExport(jobId, number, bundle.ChainId, bundle.Registry, bundle.Transaction.BlockNumber, bundle.ModelCid, bundle.Receipts.Count, bundle.Validators.Count, bytes.Length, path));
            }
            else
            {
                await context.Stdout.WriteLineAsync(string.Create(
                    CultureInfo.InvariantCulture,
                    $"Wrote the proof of round {number} of job {jobId} (chain {bundle.ChainId}, block {bundle.Transaction.BlockNumber}, {bundle.Validators.Count} validator signatures, {bundle.Receipts.Count} receipts, model {bundle.ModelCid}{(model is null ? " by CID only" : string.Empty)}) to {path}.")).ConfigureAwait(false);
            }

            return ExitCodes.Success;
        }));
        return export;
    }

    private static Command Verify(CliContext context)
    {
        var file = new Argument<string>("file") { Description = "The bundle 'proof export' wrote." };
        var rpcUrl = new Option<string>("--rpc-url") { Description = "An Ethereum JSON-RPC endpoint of the chain the round is on.", HelpName = "URL", Required = true };
        var gateway = new Option<string?>("--ipfs-gateway") { Description = "A trustless IPFS gateway to fetch the model from by CID when the bundle holds none.", HelpName = "URL" };
        var registry = new Option<string?>("--registry") { Description = "Require this registry address (else the bundle's is checked and shown).", HelpName = "ADDRESS" };
        var verify = new Command("verify", "Check a round's proof against the chain alone (no silo, no identity); exit 1 naming the first check that fails.")
        {
            file, rpcUrl, gateway, registry,
        };
        verify.SetAction((parseResult, cancellationToken) => context.ExecuteAsync(parseResult, cancellationToken, async (output, ct) =>
        {
            var rpc = HttpUrl(parseResult.GetValue(rpcUrl), "--rpc-url");
            var gatewayUrl = parseResult.GetValue(gateway) is { } g ? new Uri(HttpUrl(g, "--ipfs-gateway").AbsoluteUri.TrimEnd('/') + "/") : null;
            var pinned = parseResult.GetValue(registry) is { } r
                ? HexValues.IsAddress(r) ? r.ToLowerInvariant() : throw new CliUsageException($"--registry must be an address (0x and 40 hex digits); got '{r}'.")
                : null;
            var path = parseResult.GetValue(file)!;
            byte[] bundle;
            try
            {
                bundle = await File.ReadAllBytesAsync(path, ct).ConfigureAwait(false);
            }
            catch (Exception exception) when (exception is IOException or UnauthorizedAccessException)
            {
                throw new CliUsageException($"cannot read the bundle '{path}': {exception.Message}");
            }

            using var http = new HttpClient { Timeout = NetworkTimeout, MaxResponseContentBufferSize = MaxCarBytes };
            var verifier = new RoundProofVerifier(
                new JsonRpcProofChain(http, rpc),
                gatewayUrl is null ? null : (cid, token) => FetchCarAsync(http, gatewayUrl, cid, token),
                pinned);
            var verification = await verifier.VerifyAsync(bundle, ct).ConfigureAwait(false);
            if (output.Format == OutputFormat.Json)
            {
                output.Json(new ProofVerdict(verification.Holds, verification.Failure?.Name, verification.Checks));
            }
            else
            {
                foreach (var check in verification.Checks)
                {
                    await context.Stdout.WriteLineAsync($"{(check.Passed ? "ok  " : "FAIL")} {check.Name}: {check.Detail}").ConfigureAwait(false);
                }
            }

            if (verification.Failure is { } failure)
            {
                await context.Stderr.WriteLineAsync($"error: the proof does not hold: check '{failure.Name}' failed: {OneLine(failure.Detail)}").ConfigureAwait(false);
                return ExitCodes.OperationFailed;
            }

            return ExitCodes.Success;
        }));
        return verify;
    }

    private static async Task<byte[]> FetchCarAsync(HttpClient http, Uri gateway, string cid, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(gateway, $"ipfs/{cid}?format=car"));
        request.Headers.Accept.ParseAdd(MetaNode.Storage.Car.MediaType);
        using var response = await http.SendAsync(request, cancellationToken).ConfigureAwait(false);
        if (!response.IsSuccessStatusCode)
        {
            throw new InvalidOperationException($"GET /ipfs/{cid} answered {(int)response.StatusCode} {response.ReasonPhrase}");
        }

        return await response.Content.ReadAsByteArrayAsync(cancellationToken).ConfigureAwait(false);
    }

    private static Uri HttpUrl(string? value, string option) =>
        Uri.TryCreate(value, UriKind.Absolute, out var uri) && uri.Scheme is "http" or "https"
            ? uri
            : throw new CliUsageException($"{option} must be an http or https URL; got '{value}'.");

    internal sealed record ProofExport(string JobId, int Round, long ChainId, string Registry, long BlockNumber, string ModelCid, int Receipts, int Validators, long Bytes, string Path);

    internal sealed record ProofVerdict(bool Holds, string? FailedCheck, IReadOnlyList<ProofCheck> Checks);
}

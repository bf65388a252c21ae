using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using MetaNode.Workload.Data;
using MetaNode.Workload.Federation;
using MetaNode.Workload.Keys;
using MetaNode.Workload.Learning;
using MetaNode.Workload.Storage;
using MetaNode.Workloads;

namespace MetaNode.Workload;

/// <summary>
/// The workload protocol, version 2 (<see cref="WorkloadProtocol"/>, <c>examples/workload-protocol.md</c>): health, identity, data
/// placement, statistics, training with a signed receipt, evaluation, a validator's aggregation and rotation signing. A malformed request
/// answers 400, a conflict with the vPod's state (no such split, another sample count, a round already signed with another result,
/// missing proofs) 409, each with <c>{"error": "..."}</c>.
/// </summary>
public static class WorkloadEndpoints
{
    public static IEndpointRouteBuilder MapWorkloadProtocol(this IEndpointRouteBuilder endpoints, WorkloadSettings settings, VPodKey key, TimeProvider time, ILogger logger)
    {
        ArgumentNullException.ThrowIfNull(settings);
        ArgumentNullException.ThrowIfNull(key);
        var started = time.GetTimestamp();
        var vpodId = settings.VPodId;
        var learning = new LocalLearning(new PartitionDirectory(settings.DataDirectory), vpodId);
        var identity = new IdentityProof(key, vpodId);
        var training = new ReceiptTraining(learning, key, vpodId);
        var validation = new RoundValidation(learning, key, new SignedRoundLog(settings.KeyDirectory), vpodId, logger);
        var rotation = new RotationSigning(key, vpodId);
        var secure = new SecureCompute(learning, key, new SecureComputeState(settings.KeyDirectory), vpodId);
        var secureValidation = new SecureValidation(validation);
        var json = WorkloadJson.Default;

        endpoints.MapGet(WorkloadProtocol.HealthPath, () =>
            Results.Json(new HealthResponse("ok", vpodId, Math.Round(time.GetElapsedTime(started).TotalSeconds, 3)), json.HealthResponse));
        endpoints.MapPost(WorkloadProtocol.IdentityPath, context => HandleAsync(context, json.IdentityRequest, identity.Prove, json.IdentityResponse));
        endpoints.MapPost(WorkloadProtocol.DataPath, context => HandleAsync(context, json.DataRequest, r => DataPlacement.Place(settings.DataDirectory, vpodId, r), json.DataResponse));
        endpoints.MapPost(WorkloadProtocol.StatisticsPath, context => HandleAsync(context, json.StatisticsRequest, learning.Statistics, json.StatisticsResponse, emptyAllowed: true));
        endpoints.MapPost(WorkloadProtocol.TrainPath, context => HandleAsync(context, json.TrainRequest, training.Train, json.TrainResponse));
        endpoints.MapPost(WorkloadProtocol.EvaluatePath, context => HandleAsync(context, json.EvaluateRequest, learning.Evaluate, json.EvaluateResponse));
        endpoints.MapPost(WorkloadProtocol.AggregatePath, context => HandleAsync(context, json.AggregateRequest, validation.Aggregate, json.AggregateResponse));
        endpoints.MapPost(WorkloadProtocol.RotationPath, context => HandleAsync(context, json.RotationRequest, rotation.Sign, json.SignatureResponse));
        endpoints.MapPost(SecureAggregationPaths.Keys, context => HandleAsync(context, json.SecAggKeysRequest, secure.Keys, json.SecAggKeysDto));
        endpoints.MapPost(SecureAggregationPaths.Shares, context => HandleAsync(context, json.SecAggSharesRequest, secure.Shares, json.SecAggSharesResponse));
        endpoints.MapPost(SecureAggregationPaths.Train, context => HandleAsync(context, json.SecAggTrainRequest, secure.Train, json.SecAggTrainResponse));
        endpoints.MapPost(SecureAggregationPaths.Survivors, context => HandleAsync(context, json.SecAggSurvivorsRequest, secure.Survivors, json.SecAggSignatureDto));
        endpoints.MapPost(SecureAggregationPaths.Reveal, context => HandleAsync(context, json.SecAggRevealRequest, secure.Reveal, json.SecAggRevealDto));
        endpoints.MapPost(SecureAggregationPaths.Aggregate, context => HandleAsync(context, json.SecAggAggregateRequest, secureValidation.Aggregate, json.AggregateResponse));
        MapBlocks(endpoints, new BlockStore(settings.KeyDirectory), vpodId);
        return endpoints;
    }

    /// <summary>The block store (<see cref="StorageProtocol"/>): what a storage vPod keeps for its cluster.</summary>
    private static void MapBlocks(IEndpointRouteBuilder endpoints, BlockStore store, string vpodId)
    {
        endpoints.MapGet(StorageProtocol.BlocksPath, () => Results.Json(new BlockListResponse(vpodId, [.. store.List()]), WorkloadJson.Default.BlockListResponse));
        endpoints.MapGet(StorageProtocol.BlockRoute, async (HttpContext context, string cid) =>
        {
            if (!TryCid(cid, out var parsed, out var error))
            {
                await ErrorAsync(context, StatusCodes.Status400BadRequest, error);
                return;
            }

            if (store.Get(parsed!) is not { } bytes)
            {
                await ErrorAsync(context, StatusCodes.Status404NotFound, $"block {parsed} is not stored here.");
                return;
            }

            context.Response.ContentType = StorageProtocol.BlockMediaType;
            context.Response.ContentLength = bytes.Length;
            await context.Response.Body.WriteAsync(bytes, context.RequestAborted);
        });
        endpoints.MapPut(StorageProtocol.BlockRoute, async (HttpContext context, string cid) =>
        {
            if (!TryCid(cid, out var parsed, out var error))
            {
                await ErrorAsync(context, StatusCodes.Status400BadRequest, error);
                return;
            }

            if (context.Request.ContentLength is > StorageProtocol.MaxBlockBytes)
            {
                await ErrorAsync(context, StatusCodes.Status413PayloadTooLarge, $"a block is at most {StorageProtocol.MaxBlockBytes} bytes.");
                return;
            }

            using var buffer = new MemoryStream();
            var chunk = new byte[81920];
            int read;
            while ((read = await context.Request.Body.ReadAsync(chunk, context.RequestAborted)) > 0)
            {
                if (buffer.Length + read > StorageProtocol.MaxBlockBytes)
                {
                    await ErrorAsync(context, StatusCodes.Status413PayloadTooLarge, $"a block is at most {StorageProtocol.MaxBlockBytes} bytes.");
                    return;
                }

                buffer.Write(chunk, 0, read);
            }

            try
            {
                var created = store.Put(parsed!, buffer.GetBuffer().AsSpan(0, (int)buffer.Length));
                context.Response.StatusCode = created ? StatusCodes.Status201Created : StatusCodes.Status204NoContent;
            }
            catch (InvalidWorkloadRequestException ex)
            {
                await ErrorAsync(context, StatusCodes.Status400BadRequest, ex.Message);
            }
        });
        endpoints.MapDelete(StorageProtocol.BlockRoute, async (HttpContext context, string cid) =>
        {
            if (!TryCid(cid, out var parsed, out var error))
            {
                await ErrorAsync(context, StatusCodes.Status400BadRequest, error);
                return;
            }

            store.Delete(parsed!);
            context.Response.StatusCode = StatusCodes.Status204NoContent;
        });
    }

    private static bool TryCid(string text, out MetaNode.Storage.Cid? cid, out string error) =>
        MetaNode.Storage.Cid.TryParse(text, out cid, out error);

    private static async Task HandleAsync<TRequest, TResponse>(
        HttpContext context,
        JsonTypeInfo<TRequest> requestType,
        Func<TRequest?, TResponse> handle,
        JsonTypeInfo<TResponse> responseType,
        bool emptyAllowed = false)
        where TRequest : class
    {
        TResponse response;
        try
        {
            var request = await ReadAsync(context, requestType, emptyAllowed);
            response = handle(request);
        }
        catch (InvalidWorkloadRequestException ex)
        {
            await ErrorAsync(context, StatusCodes.Status400BadRequest, ex.Message);
            return;
        }
        catch (Exception ex) when (ex is WorkloadConflictException or PartitionUnavailableException or SignedRoundLogException)
        {
            await ErrorAsync(context, StatusCodes.Status409Conflict, ex.Message);
            return;
        }

        await Results.Json(response, responseType).ExecuteAsync(context);
    }

    private static Task ErrorAsync(HttpContext context, int status, string message) =>
        Results.Json(new ErrorResponse(message), WorkloadJson.Default.ErrorResponse, statusCode: status).ExecuteAsync(context);

    private static async Task<TRequest?> ReadAsync<TRequest>(HttpContext context, JsonTypeInfo<TRequest> type, bool emptyAllowed)
        where TRequest : class
    {
        using var buffer = new MemoryStream();
        await context.Request.Body.CopyToAsync(buffer, context.RequestAborted);
        if (buffer.Length == 0)
        {
            return emptyAllowed ? null : throw new InvalidWorkloadRequestException("The request has no body; send a JSON object.");
        }

        try
        {
            return JsonSerializer.Deserialize(buffer.GetBuffer().AsSpan(0, (int)buffer.Length), type);
        }
        catch (JsonException ex)
        {
            throw new InvalidWorkloadRequestException($"The body is not a valid request: {ex.Message}");
        }
    }
}

using System.Globalization;
using System.Net;
using System.Text;
using MetaNode.Chain;
using MetaNode.Federation;
using MetaNode.Grains.Federation;
using MetaNode.Tests.Federation;
using MetaNode.Workload;
using MetaNode.Workloads;

namespace MetaNode.Tests.Workload;

/// <summary>The reference workload's learning endpoints over HTTP, on a digits partition written the way a job places it.</summary>
public sealed class LearningWorkloadTests : IAsyncLifetime
{
    private const long ChainId = 31337;
    private static readonly TrainingHyperParameters Hyper = new(2, 16, 0.1, 1234);

    private FederationTestData _data = null!;
    private InProcessWorkload _compute = null!;
    private InProcessWorkload _validator = null!;
    private HttpClient _http = null!;
    private FederatedWorkloadClient _client = null!;
    private Standardization _standardization = null!;

    public async Task InitializeAsync()
    {
        _data = FederationTestData.Create(BuiltInDatasets.LoadDigits(), PartitionScheme.Iid, 4, seed: 5);
        _compute = await InProcessWorkload.StartAsync(_data.ComputeIds[0], _data.DataDirectory(_data.ComputeIds[0]));
        _validator = await InProcessWorkload.StartAsync(_data.ValidatorId, _data.DataDirectory(_data.ValidatorId));
        _http = new HttpClient { Timeout = TimeSpan.FromSeconds(30) };
        _client = new FederatedWorkloadClient(_http);
        _standardization = StandardizationCombiner.Combine([await _client.GetStatisticsAsync(_compute.Endpoint)]);
    }

    public async Task DisposeAsync()
    {
        _http.Dispose();
        await _compute.DisposeAsync();
        await _validator.DisposeAsync();
        _data.Dispose();
    }

    [Fact]
    public async Task Statistics_ReportCountSumsAndSquaresOfThePartition_WhenAsked()
    {
        var part = _data.Plan.Parts[0];
        var expected = StandardizationCombiner.Moments("x", part, Enumerable.Range(0, part.Rows).ToList());

        var moments = await _client.GetStatisticsAsync(_compute.Endpoint);

        Assert.Equal(_data.ComputeIds[0], moments.VPodId);
        Assert.Equal(part.Rows, moments.Count);
        Assert.Equal(expected.Sum, moments.Sum);
        Assert.Equal(expected.SumOfSquares, moments.SumOfSquares);
    }

    [Fact]
    public async Task Train_ReturnsIdenticalModelBytes_WhenCalledTwiceWithTheSameSeed()
    {
        var global = FederatedModel.Zero(10, 64);

        var first = await TrainAsync(global, Hyper);
        var second = await TrainAsync(global, Hyper);
        var otherSeed = await TrainAsync(global, Hyper with { Seed = 99 });

        Assert.Equal(ModelEncoding.Encode(first.Model), ModelEncoding.Encode(second.Model));
        Assert.NotEqual(ModelEncoding.HashHex(first.Model), ModelEncoding.HashHex(otherSeed.Model));
        Assert.Equal(_data.Plan.Parts[0].Rows, first.SampleCount);
        Assert.Equal(2 * (int)Math.Ceiling(_data.Plan.Parts[0].Rows / 16.0), first.Metrics.Steps);
        Assert.True(first.Metrics.Accuracy > 0.9, $"local accuracy after training {first.Metrics.Accuracy}");
        Assert.True(first.Metrics.Loss < Math.Log(10), $"local loss after training {first.Metrics.Loss}");
        Assert.Equal(first.Receipt.Signature, second.Receipt.Signature);
    }

    [Fact]
    public async Task Train_SignsAReceiptOfItsOwnUpdateWithTheVPodsKey_UnderTheRequestsChain()
    {
        var trained = await TrainAsync(FederatedModel.Zero(10, 64), Hyper, assignedSamples: _data.Plan.Parts[0].Rows);
        var receipt = trained.Receipt;

        Assert.Equal(("job-a", 1, _data.ComputeIds[0], (long)_data.Plan.Parts[0].Rows), (receipt.Job, receipt.Round, receipt.VPodId, receipt.SampleCount));
        Assert.Equal(ModelEncoding.HashHex(trained.Model), receipt.UpdateHash);
        Assert.True(VPodTypedData.ReceiptSignedBy(receipt, ChainId, _compute.Address), "the receipt does not recover to the compute workload's own address");
        Assert.False(VPodTypedData.ReceiptSignedBy(receipt, ChainId + 1, _compute.Address), "the receipt's signature is valid on another chain");
        Assert.False(VPodTypedData.ReceiptSignedBy(receipt, ChainId, _validator.Address), "the receipt recovers to another workload's address");
    }

    [Fact]
    public async Task Train_Answers409NamingBothCounts_WhenTheJobAssignedAnotherSampleCount()
    {
        var rows = _data.Plan.Parts[0].Rows;

        var error = await Assert.ThrowsAsync<WorkloadRequestException>(() => TrainAsync(FederatedModel.Zero(10, 64), Hyper, assignedSamples: rows + 1));

        Assert.Equal(409, error.StatusCode);
        Assert.Equal($"the job assigned {rows + 1} samples; this vPod holds {rows} training rows", error.Error);
    }

    [Fact]
    public async Task Evaluate_ReportsAccuracyAndLossOnTheHeldOutSplit_WhenAskedByAValidator()
    {
        var trained = await TrainAsync(FederatedModel.Zero(10, 64), Hyper);

        var evaluation = await _client.EvaluateAsync(_validator.Endpoint, "job-a", 1, trained.Model, _standardization);
        var untrained = await _client.EvaluateAsync(_validator.Endpoint, "job-a", 1, FederatedModel.Zero(10, 64), _standardization);

        Assert.Equal("test", evaluation.Split);
        Assert.Equal(_data.Plan.Test.Rows, evaluation.SampleCount);
        Assert.True(evaluation.Accuracy > 0.85, $"held-out accuracy {evaluation.Accuracy}");
        Assert.Equal(Math.Log(10), untrained.Loss, 12);
    }

    [Fact]
    public async Task Evaluate_Answers409NamingTheSplit_WhenTheDataDirectoryHasNoSuchSplit()
    {
        var error = await Assert.ThrowsAsync<WorkloadRequestException>(() =>
            _client.EvaluateAsync(_compute.Endpoint, "job-a", 1, FederatedModel.Zero(10, 64), _standardization, split: "test"));

        Assert.Equal(409, error.StatusCode);
        Assert.Contains("'test' split", error.Error);
    }

    [Theory]
    [InlineData("""{"job":"j","round":1,"model":MODEL,"hyperParameters":{"epochs":1,"batchSize":16,"learningRate":-0.1,"seed":1}}""", "learningRate")]
    [InlineData("""{"job":"j","round":1,"model":MODEL,"hyperParameters":{"epochs":0,"batchSize":16,"learningRate":0.1,"seed":1}}""", "epochs")]
    [InlineData("""{"job":"j","round":1,"model":MODEL,"hyperParameters":{"epochs":1,"batchSize":0,"learningRate":0.1,"seed":1}}""", "batchSize")]
    [InlineData("""{"job":"j","round":1,"model":MODEL,"hyperParameters":{"epochs":1,"batchSize":16,"learningRate":0.1,"seed":9007199254740992}}""", "seed")]
    [InlineData("""{"job":"j","round":1,"model":{"classes":10,"features":63,"weights":[],"bias":[]},"hyperParameters":{"epochs":1,"batchSize":16,"learningRate":0.1,"seed":1}}""", "63 features")]
    [InlineData("""{"job":"j","round":1,"model":{"classes":10,"features":64,"weights":[1,2],"bias":[]},"hyperParameters":{"epochs":1,"batchSize":16,"learningRate":0.1,"seed":1}}""", "model.weights")]
    [InlineData("""{"job":"j","round":-1,"model":MODEL,"hyperParameters":{"epochs":1,"batchSize":16,"learningRate":0.1,"seed":1}}""", "round")]
    [InlineData("""{"round":1,"model":""", "not a valid request")]
    [InlineData("""{"round":1} {"round":2}""", "not a valid request")]
    [InlineData("""{"round":1} x""", "not a valid request")]
    [InlineData("", "has no body")]
    [InlineData("""{"round":1,"chainId":1,"model":MODEL,"hyperParameters":{"epochs":1,"batchSize":16,"learningRate":0.1,"seed":1}}""", "job is missing")]
    [InlineData("""{"job":"j","round":1,"chainId":-1,"model":MODEL,"hyperParameters":{"epochs":1,"batchSize":16,"learningRate":0.1,"seed":1}}""", "chainId")]
    public async Task Train_Answers400NamingTheField_WhenTheRequestIsInvalid(string body, string expected)
    {
        var zero = FederatedModel.Zero(10, 64);
        var model = string.Create(CultureInfo.InvariantCulture, $$"""{"classes":10,"features":64,"weights":[{{string.Join(',', zero.Weights.ToArray())}}],"bias":[{{string.Join(',', zero.Bias.ToArray())}}]}""");
        using var content = new StringContent(body.Replace("MODEL", model, StringComparison.Ordinal), Encoding.UTF8, "application/json");

        using var response = await _http.PostAsync(new Uri(_compute.Endpoint, WorkloadProtocol.TrainPath), content);
        var text = await response.Content.ReadAsStringAsync();

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains(expected, text, StringComparison.Ordinal);
    }

    [Fact]
    public void Settings_ReadDataDirectoryFromEnvironment_WhenSet()
    {
        var settings = WorkloadSettings.FromEnvironment(name => name switch
        {
            WorkloadProtocol.DataDirectoryVariable => "relative/data",
            WorkloadProtocol.KeyDirectoryVariable => "relative/key",
            _ => null,
        });

        Assert.Equal(Path.GetFullPath("relative/data"), settings.DataDirectory);
        Assert.Equal(Path.GetFullPath("relative/key"), settings.KeyDirectory);
    }

    private Task<TrainingOutcome> TrainAsync(FederatedModel global, TrainingHyperParameters hyper, long? assignedSamples = null) =>
        _client.TrainAsync(_compute.Endpoint, "job-a", 1, ChainId, assignedSamples, global, _standardization, hyper);
}

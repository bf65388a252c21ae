using System.Globalization;
using System.Net;
using System.Text;
using MetaNode.Federation;
using MetaNode.Grains.Federation;
using MetaNode.Tests.Federation;
using MetaNode.Workload;

namespace MetaNode.Tests.Workload;

/// <summary>The reference workload's learning endpoints over HTTP, on a digits partition written the way a job places it.</summary>
public sealed class LearningWorkloadTests : IAsyncLifetime
{
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

        var first = await _client.TrainAsync(_compute.Endpoint, "job-a", 1, global, _standardization, Hyper);
        var second = await _client.TrainAsync(_compute.Endpoint, "job-a", 1, global, _standardization, Hyper);
        var otherSeed = await _client.TrainAsync(_compute.Endpoint, "job-a", 1, global, _standardization, Hyper with { Seed = 99 });

        Assert.Equal(ModelEncoding.Encode(first.Model), ModelEncoding.Encode(second.Model));
        Assert.NotEqual(ModelEncoding.HashHex(first.Model), ModelEncoding.HashHex(otherSeed.Model));
        Assert.Equal(_data.Plan.Parts[0].Rows, first.SampleCount);
        Assert.Equal(2 * (int)Math.Ceiling(_data.Plan.Parts[0].Rows / 16.0), first.Metrics.Steps);
        Assert.True(first.Metrics.Accuracy > 0.9, $"local accuracy after training {first.Metrics.Accuracy}");
        Assert.True(first.Metrics.Loss < Math.Log(10), $"local loss after training {first.Metrics.Loss}");
    }

    [Fact]
    public async Task Evaluate_ReportsAccuracyAndLossOnTheHeldOutSplit_WhenAskedByAValidator()
    {
        var trained = await _client.TrainAsync(_compute.Endpoint, "job-a", 1, FederatedModel.Zero(10, 64), _standardization, Hyper);

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
    [InlineData("""{"round":1,"model":MODEL,"hyperParameters":{"epochs":1,"batchSize":16,"learningRate":-0.1,"seed":1}}""", "learningRate")]
    [InlineData("""{"round":1,"model":MODEL,"hyperParameters":{"epochs":0,"batchSize":16,"learningRate":0.1,"seed":1}}""", "epochs")]
    [InlineData("""{"round":1,"model":MODEL,"hyperParameters":{"epochs":1,"batchSize":0,"learningRate":0.1,"seed":1}}""", "batchSize")]
    [InlineData("""{"round":1,"model":MODEL,"hyperParameters":{"epochs":1,"batchSize":16,"learningRate":0.1,"seed":9007199254740992}}""", "seed")]
    [InlineData("""{"round":1,"model":{"classes":10,"features":63,"weights":[],"bias":[]},"hyperParameters":{"epochs":1,"batchSize":16,"learningRate":0.1,"seed":1}}""", "63 features")]
    [InlineData("""{"round":1,"model":{"classes":10,"features":64,"weights":[1,2],"bias":[]},"hyperParameters":{"epochs":1,"batchSize":16,"learningRate":0.1,"seed":1}}""", "model.weights")]
    [InlineData("""{"round":-1,"model":MODEL,"hyperParameters":{"epochs":1,"batchSize":16,"learningRate":0.1,"seed":1}}""", "round")]
    [InlineData("""{"round":1,"model":""", "not a valid request")]
    public async Task Train_Answers400NamingTheField_WhenTheRequestIsInvalid(string body, string expected)
    {
        var zero = FederatedModel.Zero(10, 64);
        var model = string.Create(CultureInfo.InvariantCulture, $$"""{"classes":10,"features":64,"weights":[{{string.Join(',', zero.Weights.ToArray())}}],"bias":[{{string.Join(',', zero.Bias.ToArray())}}]}""");
        using var content = new StringContent(body.Replace("MODEL", model, StringComparison.Ordinal), Encoding.UTF8, "application/json");

        using var response = await _http.PostAsync(new Uri(_compute.Endpoint, "/v1/train"), content);
        var text = await response.Content.ReadAsStringAsync();

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains(expected, text, StringComparison.Ordinal);
    }

    [Fact]
    public void Settings_ReadDataDirectoryFromEnvironment_WhenSet()
    {
        var settings = WorkloadSettings.FromEnvironment(name => name == WorkloadSettings.DataDirectoryVariable ? "relative/data" : null);

        Assert.Equal(Path.GetFullPath("relative/data"), settings.DataDirectory);
    }
}

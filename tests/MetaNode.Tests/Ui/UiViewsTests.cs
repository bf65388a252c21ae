using System.Text.Json;
using MetaNode.Chain;
using MetaNode.Clusters;
using MetaNode.Federation;
using MetaNode.Security;
using MetaNode.Silo.Hosting;
using MetaNode.Silo.Ui;
using MetaNode.VPods;
using JobRound = MetaNode.Federation.RoundResult;

namespace MetaNode.Tests.Ui;

/// <summary>The view's pure parts: status records mapped to what the pages show, the dashboard link, and the requests refused before any grain is asked.</summary>
public sealed class UiViewsTests
{
    private static readonly DateTimeOffset T0 = new(2026, 3, 1, 12, 0, 0, TimeSpan.Zero);

    [Fact]
    public void VPod_TakesTheLiveStatusAndTheSilo_AndNeverTheSpecOrItsEnvironment()
    {
        var summary = new VPodSummary { Id = "vpod-a", Name = "a", Type = VPodType.Compute, Phase = VPodPhase.Pending, Health = VPodHealth.Unknown, CreatedAt = T0 };
        var status = new VPodStatus
        {
            Id = "vpod-a",
            Name = "a",
            Type = VPodType.Validator,
            DeploymentMethod = DeploymentMethod.Docker,
            Phase = VPodPhase.Running,
            Health = VPodHealth.Healthy,
            RestartCount = 2,
            Endpoint = "127.0.0.1:41000",
            Address = "0x00000000000000000000000000000000000000aa",
            Reason = "started",
            CreatedAt = T0,
            UpdatedAt = T0.AddMinutes(1),
            Spec = new VPodSpec { Name = "a", Cluster = "validators", Env = new Dictionary<string, string> { ["API_KEY"] = "s3cret-value" } },
        };

        var view = UiViews.VPod(summary, status, "S127.0.0.1:11111:1");

        Assert.Equal(
            new VPodView("vpod-a", "a", "validator", "docker", "Running", "Healthy", 2, "S127.0.0.1:11111:1", "127.0.0.1:41000",
                "0x00000000000000000000000000000000000000aa", "validators", "started", T0, T0.AddMinutes(1)),
            view);
        var json = JsonSerializer.Serialize(view, MetaNodeUi.Json);
        Assert.DoesNotContain("s3cret-value", json, StringComparison.Ordinal);
        Assert.DoesNotContain("API_KEY", json, StringComparison.Ordinal);
        Assert.Contains("\"phase\":\"Running\"", json, StringComparison.Ordinal);
    }

    [Fact]
    public void VPod_WithoutAStatus_ShowsTheRegistrysSummary_AndVPodsAreOrderedOldestFirst()
    {
        var late = UiViews.VPod(new VPodSummary { Id = "vpod-b", Name = "b", Type = VPodType.Storage, DeploymentMethod = DeploymentMethod.Docker, Phase = VPodPhase.Stopped, RestartCount = 1, CreatedAt = T0.AddHours(1) }, null, null);
        var early = UiViews.VPod(new VPodSummary { Id = "vpod-z", Name = "z", CreatedAt = T0 }, null, "silo-1");
        var tie = UiViews.VPod(new VPodSummary { Id = "vpod-c", Name = "c", CreatedAt = T0 }, null, null);

        Assert.Equal(("storage", "docker", "Stopped", 1, (string?)null), (late.Type, late.Runtime, late.Phase, late.Restarts, late.Endpoint));
        Assert.Equal(["vpod-c", "vpod-z", "vpod-b"], UiViews.VPods([late, early, tie]).Select(v => v.Id));
    }

    [Fact]
    public void Cluster_ShowsMembersByOrdinal_TheLeaderAndTerm_AndLeaderHistoryNewestFirst()
    {
        var status = new ClusterStatus
        {
            Name = "orch",
            Phase = ClusterPhase.Ready,
            Spec = new ClusterSpec { Name = "orch", Count = 2, MemberType = VPodType.Orchestrator },
            Desired = 2,
            Running = 2,
            Members =
            [
                new ClusterMemberStatus { Id = "vpod-orch-1", Name = "orch-1", Ordinal = 1, Phase = VPodPhase.Running, Health = VPodHealth.Healthy, Silo = "s1" },
                new ClusterMemberStatus { Id = "vpod-orch-0", Name = "orch-0", Ordinal = 0, Phase = VPodPhase.Running, Health = VPodHealth.Healthy, Silo = "s1", IsLeader = true },
            ],
            Leader = "vpod-orch-0",
            Term = 3,
            FencingTerm = 3,
            LeaderChanges =
            [
                new LeaderChange { EventId = "orch/1", Scope = "orch", Leader = "vpod-orch-1", Term = 1, At = T0, Reason = "elected" },
                new LeaderChange { EventId = "orch/3", Scope = "orch", Leader = "vpod-orch-0", PreviousLeader = "vpod-orch-1", Term = 3, At = T0.AddMinutes(2), Reason = "lease expired" },
                new LeaderChange { EventId = "orch/2", Scope = "orch", Leader = "vpod-orch-1", Term = 2, At = T0.AddMinutes(1) },
            ],
        };

        var view = UiViews.Cluster(status);

        Assert.Equal(("orch", "orchestrator", "process", "Ready", 2, 2), (view.Name, view.MemberType, view.Runtime, view.Phase, view.Desired, view.Running));
        Assert.Equal(["vpod-orch-0", "vpod-orch-1"], view.Members.Select(m => m.Id));
        Assert.True(view.Members[0].IsLeader);
        Assert.Equal(("vpod-orch-0", 3L), (view.Leader, view.Term));
        Assert.Equal([3L, 2L, 1L], view.LeaderChanges.Select(c => c.Term));
        Assert.Equal(new LeaderChangeView(3, "vpod-orch-0", "vpod-orch-1", T0.AddMinutes(2), "lease expired"), view.LeaderChanges[0]);
        Assert.Equal(["compute", "orch"], UiViews.Clusters([view, UiViews.Cluster(new ClusterStatus { Name = "compute" })]).Select(c => c.Name));
    }

    [Fact]
    public void Job_ListsRoundsInOrder_WithTheirAccuracyParticipantsTransactionAndTimings()
    {
        var status = new FederatedJobStatus
        {
            JobId = "job-0123456789",
            Phase = FederatedJobPhase.Training,
            Spec = new FederatedJobSpec { Algorithm = FederatedAlgorithm.FederatedAverage, ComputeCluster = "compute", ValidatorCluster = "validators", Dataset = "digits", Rounds = 3 },
            Round = 3,
            Rounds = 3,
            UpdatesIn = 1,
            ComputeVPods = 3,
            Results =
            [
                new JobRound { Job = "job-0123456789", Round = 2, Accuracy = 0.9123456789, Loss = 0.3, Participants = ["vpod-c-0", "vpod-c-1"], TotalSamples = 900, TxHash = "0x" + new string('b', 64), ResultHash = "0x" + new string('2', 64) },
                new JobRound { Job = "job-0123456789", Round = 1, Accuracy = 0.8, Loss = 0.5, Participants = ["vpod-c-0", "vpod-c-1", "vpod-c-2"], TotalSamples = 1200, TxHash = "0x" + new string('a', 64), ResultHash = "0x" + new string('1', 64) },
            ],
            Timings =
            [
                new RoundTimings { Round = 1, DispatchMs = 5, SlowestTrainingMs = 900, CollectionMs = 950, StreamDeliveryMs = 12, AggregationMs = 40, FinalizationMs = 300, TotalMs = 1300, GasUsed = 210_000 },
            ],
        };

        var view = UiViews.Job(status);

        Assert.Equal(("Training", 3, 3, "federated-average", "digits"), (view.Phase, view.Round, view.TotalRounds, view.Algorithm, view.Dataset));
        Assert.Equal([1, 2], view.Rounds.Select(r => r.Round));
        Assert.Equal([0.8, 0.9123456789], view.Rounds.Select(r => r.Accuracy!.Value));
        Assert.Equal(["vpod-c-0", "vpod-c-1", "vpod-c-2"], view.Rounds[0].Participants);
        Assert.Equal("0x" + new string('a', 64), view.Rounds[0].TxHash);
        Assert.Equal(new RoundTimingsView(5, 900, 950, 12, 40, 300, 1300, 210_000), view.Rounds[0].Timings);
        Assert.Null(view.Rounds[1].Timings);
        Assert.Equal(status.FinalAccuracy, view.FinalAccuracy);

        var json = JsonSerializer.Serialize(view, MetaNodeUi.Json);
        Assert.Contains("\"slowestTrainingMs\":900", json, StringComparison.Ordinal);
        Assert.Contains("\"accuracy\":0.9123456789", json, StringComparison.Ordinal);
    }

    [Fact]
    public void Jobs_AreListedNewestFirst()
    {
        var rows = UiViews.Jobs(
        [
            new FederatedJobSummary { JobId = "job-old", Phase = FederatedJobPhase.Completed, Round = 2, Rounds = 2, Accuracy = 0.9, CreatedAt = T0 },
            new FederatedJobSummary { JobId = "job-new", Phase = FederatedJobPhase.Training, Round = 1, Rounds = 5, CreatedAt = T0.AddHours(1) },
        ]);

        Assert.Equal(["job-new", "job-old"], rows.Select(r => r.JobId));
        Assert.Equal(new JobRowView("job-old", "Completed", 2, 2, null, 0.9, T0, default), rows[1]);
    }

    [Fact]
    public void Record_SaysWhetherTheChainHoldsTheJobsResult()
    {
        var job = new JobRound { Job = "job-1", Round = 1, ResultHash = "0xAB", TxHash = "0xT1" };
        var onChain = new RoundRecord { JobId = "job-1", Round = 1, Finalized = true, Verified = true, ResultHash = "0xab", TransactionHash = "0xt1", BlockNumber = 7 };

        Assert.True(UiViews.Record(onChain, job).MatchesJob);
        Assert.False(UiViews.Record(onChain with { ResultHash = "0xcd" }, job).MatchesJob);
        Assert.False(UiViews.Record(onChain with { TransactionHash = "0xt2" }, job).MatchesJob);
        Assert.Null(UiViews.Record(onChain, null).MatchesJob);
        Assert.Null(UiViews.Record(new RoundRecord { JobId = "job-1", Round = 1 }, job).MatchesJob);
        Assert.Equal((7L, "0xt1", true), (UiViews.Record(onChain, job).BlockNumber!.Value, UiViews.Record(onChain, job).TransactionHash, UiViews.Record(onChain, job).Verified));
    }

    [Theory]
    [InlineData(FederatedAlgorithm.FederatedAverage, "federated-average")]
    [InlineData(FederatedAlgorithm.SecureAggregation, "secure-aggregation")]
    public void EnumNames_AreSpelledAsTheCliFlags(FederatedAlgorithm algorithm, string expected) =>
        Assert.Equal(expected, UiViews.Name(algorithm));

    [Theory]
    [InlineData("job-0123456789", true)]
    [InlineData("", false)]
    [InlineData("   ", false)]
    [InlineData("a/b", false)]
    [InlineData("job-0123456789012345678901234567890", false)]
    public void JobIds_AreCheckedBeforeAnyGrainIsAsked(string id, bool accepted) =>
        Assert.Equal(accepted, UiData.CheckJobId(id) is null);

    [Theory]
    [InlineData("0", true, 0L)]
    [InlineData("12", true, 12L)]
    [InlineData("-1", false, 0L)]
    [InlineData("x", false, 0L)]
    [InlineData("1.5", false, 0L)]
    public void RoundNumbers_AreCheckedBeforeAnyGrainIsAsked(string round, bool accepted, long expected)
    {
        var refusal = MetaNodeUi.CheckRound(round, out var number);
        Assert.Equal(accepted, refusal is null);
        if (accepted)
        {
            Assert.Equal(expected, number);
        }
        else
        {
            Assert.Contains($"invalid round '{round}'", refusal, StringComparison.Ordinal);
        }
    }

    [Theory]
    [InlineData("/ui")]
    [InlineData("/ui/vpods")]
    [InlineData("/ui/api/vpods")]
    [InlineData("/ui/api/jobs/job-1/rounds/1")]
    [InlineData("/ui/assets/app.js")]
    public void TheView_IsNotAnOpenPath(string path)
    {
        var refusal = HttpAccess.Decide(path, null, _ => (null, "unused"), _ => false);
        Assert.Equal(401, refusal?.Status);
        var viewer = new CredentialClaims("v", AccessRole.Viewer, "01", T0.AddYears(50), CredentialClaims.BrowserKind);
        Assert.Null(HttpAccess.Decide(path, "token", _ => (viewer, string.Empty), _ => false));
    }

    [Fact]
    public void DashboardIndex_GetsOneMetaNodeLink_InItsSidebar()
    {
        var index = DashboardIndex();
        Assert.DoesNotContain(DashboardLink.ElementId, index, StringComparison.Ordinal);

        var linked = DashboardLink.Insert(index);

        var at = linked.IndexOf($"id=\"{DashboardLink.ElementId}\"", StringComparison.Ordinal);
        Assert.True(at > linked.IndexOf("<div id=\"menu\"></div>", StringComparison.Ordinal), "the link sits after the dashboard's menu");
        Assert.True(at < linked.IndexOf("</aside>", StringComparison.Ordinal), "the link sits in the sidebar");
        Assert.Contains("href=\"/ui/vpods\"", linked, StringComparison.Ordinal);
        Assert.Equal(linked, DashboardLink.Insert(linked));
        Assert.Single(System.Text.RegularExpressions.Regex.Matches(linked, DashboardLink.ElementId));
    }

    [Fact]
    public void APageWithoutASidebar_GetsAFloatingLink_AndOneWithoutABodyIsLeftAlone()
    {
        var floating = DashboardLink.Insert("<html><body><p>x</p></body></html>");
        Assert.Matches("<p>x</p><a id=\"metanode-ui-link\" href=\"/ui/vpods\"[^>]*position:fixed[^>]*>MetaNode</a></body>", floating);
        Assert.Equal("plain text", DashboardLink.Insert("plain text"));
    }

    [Theory]
    [InlineData("/dashboard", true)]
    [InlineData("/dashboard/", true)]
    [InlineData("/dashboard/index.html", true)]
    [InlineData("/dashboard/index.min.js", false)]
    [InlineData("/dashboardx", false)]
    [InlineData("/ui/vpods", false)]
    public void OnlyTheDashboardsIndexIsRewritten(string path, bool rewritten) =>
        Assert.Equal(rewritten, DashboardLink.IsIndex(path, "/dashboard"));

    /// <summary>The index page the Orleans Dashboard package ships.</summary>
    private static string DashboardIndex()
    {
        var assembly = typeof(Orleans.Dashboard.DashboardOptions).Assembly;
        var name = assembly.GetManifestResourceNames().Single(n => n.EndsWith("wwwroot.index.html", StringComparison.Ordinal));
        using var reader = new StreamReader(assembly.GetManifestResourceStream(name)!);
        return reader.ReadToEnd();
    }
}

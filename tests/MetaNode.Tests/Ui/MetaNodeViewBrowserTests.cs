using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using MetaNode.Client;
using MetaNode.Silo.Ui;
using MetaNode.Tests.Infrastructure;
using MetaNode.VPods;
using Microsoft.Playwright;

namespace MetaNode.Tests.Ui;

/// <summary>
/// The MetaNode view in headless Chromium against a real silo: each page shows what the API says (ids, phases, silos,
/// leaders and terms, accuracy per round, transactions), updates without a reload, sits behind the same login as the
/// dashboard, and is linked from it. Each page is kept as a full-page screenshot under ui-screenshots/.
/// </summary>
public sealed class MetaNodeViewBrowserTests(MetaNodeViewFixture fixture) : IClassFixture<MetaNodeViewFixture>
{
    private static readonly TimeSpan Settle = TimeSpan.FromSeconds(20);

    [Fact]
    public async Task WithoutAToken_ThePagesTheirJsonAndAssetsAnswer401_AndAViewerTokenOpensThem()
    {
        string[] paths =
        [
            "/ui", "/ui/vpods", "/ui/clusters", "/ui/jobs", $"/ui/jobs/{fixture.JobId}", $"/ui/jobs/{fixture.JobId}/rounds/1", "/ui/assets/app.js",
            "/ui/api/vpods", "/ui/api/clusters", "/ui/api/jobs", $"/ui/api/jobs/{fixture.JobId}", $"/ui/api/jobs/{fixture.JobId}/rounds/1",
        ];
        using var anonymous = new HttpClient(new HttpClientHandler { AllowAutoRedirect = false });
        foreach (var path in paths)
        {
            using var refused = await anonymous.GetAsync(new Uri(fixture.Silo.HttpBase, path));
            var body = await refused.Content.ReadAsStringAsync();
            Assert.True(refused.StatusCode == HttpStatusCode.Unauthorized, $"{path}: {(int)refused.StatusCode} {body}");
            Assert.DoesNotContain(fixture.JobId, body, StringComparison.Ordinal);
            Assert.DoesNotContain(fixture.Solo, body, StringComparison.Ordinal);
        }

        using var viewer = new HttpClient(new HttpClientHandler { AllowAutoRedirect = false });
        viewer.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", fixture.ViewerToken);
        using var jobs = await viewer.GetAsync(new Uri(fixture.Silo.HttpBase, "/ui/api/jobs"));
        Assert.Equal(HttpStatusCode.OK, jobs.StatusCode);
        Assert.Contains($"\"jobId\":\"{fixture.JobId}\"", await jobs.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        foreach (var (path, code, says) in new[]
        {
            ("/ui/api/jobs/job-never-started", HttpStatusCode.NotFound, "Federated job 'job-never-started' was not found"),
            ($"/ui/api/jobs/{new string('j', 33)}", HttpStatusCode.BadRequest, "at most 32 characters"),
            ($"/ui/api/jobs/{fixture.JobId}/rounds/-1", HttpStatusCode.BadRequest, "invalid round '-1'"),
        })
        {
            using var answer = await viewer.GetAsync(new Uri(fixture.Silo.HttpBase, path));
            var error = JsonDocument.Parse(await answer.Content.ReadAsStringAsync()).RootElement.GetProperty("error").GetString();
            Assert.Equal(code, answer.StatusCode);
            Assert.Contains(says, error, StringComparison.Ordinal);
        }

        using var root = await viewer.GetAsync(new Uri(fixture.Silo.HttpBase, "/ui"));
        Assert.Equal((HttpStatusCode.Redirect, "/ui/vpods"), (root.StatusCode, root.Headers.Location?.ToString()));
        using var vpods = await viewer.GetAsync(new Uri(fixture.Silo.HttpBase, "/ui/vpods"));
        Assert.Contains("default-src 'none'", vpods.Headers.GetValues("Content-Security-Policy").Single(), StringComparison.Ordinal);

        // A browser without the cookie gets the refusal too, not the page.
        var page = await fixture.Chromium.NewPageAsync(fixture.Silo.HttpBase);
        var response = await page.GotoAsync("/ui/vpods");
        Assert.Equal(401, response!.Status);
        Assert.Contains("/login?token=", await page.ContentAsync(), StringComparison.Ordinal);
        await page.Context.CloseAsync();
    }

    [Fact]
    public async Task TheDashboard_ShowsAMetaNodeLink_ThatOpensTheVPodsView()
    {
        var view = await fixture.OpenAsync("/dashboard/");
        var page = view.Page;
        Assert.EndsWith("/dashboard/", page.Url, StringComparison.Ordinal);

        // The dashboard renders its own menu; the link stays beside it.
        await page.Locator("#menu a").First.WaitForAsync();
        var link = page.Locator($"#{DashboardLink.ElementId}");
        await Assertions.Expect(link).ToBeVisibleAsync();
        Assert.Equal("MetaNode", (await link.InnerTextAsync()).Trim());
        await UiScreenshots.SaveAsync(page, "dashboard");

        // Waiting starts before the click, and ends when the navigation commits: the dashboard's own polling may keep its
        // page from ever settling, and the vPods view's content is awaited below.
        await Task.WhenAll(
            page.WaitForURLAsync("**/ui/vpods", new() { WaitUntil = WaitUntilState.Commit, Timeout = 60_000 }),
            link.ClickAsync());
        await Assertions.Expect(page.Locator("h1")).ToHaveTextAsync("vPods");
        await page.Locator($"#vpods tr[data-key='{fixture.Solo}']").WaitForAsync();
        await page.Context.CloseAsync();
    }

    [Fact]
    public async Task TheVPodsView_ShowsEveryVPod_AsTheApiDoes()
    {
        var view = await fixture.OpenAsync("/ui/vpods");
        var mismatch = await Eventually.WaitAsync(() => VPodMismatchesAsync(view), m => m.Length == 0, "the vPods page to show what the API shows", Settle);
        Assert.Equal(string.Empty, mismatch);

        // Eight cluster members and the solo vPod, each with its silo, type and runtime.
        var rows = await view.TableAsync("#vpods");
        Assert.Equal(8 + 1, rows.Count);
        var orchestrator = await fixture.Client.GetClusterStatusAsync("orch");
        var silo = orchestrator.Members[0].Silo;
        Assert.False(string.IsNullOrEmpty(silo));
        Assert.All(rows, r => Assert.Equal(silo, r["silo"]));
        var solo = rows.Single(r => r["key"] == fixture.Solo);
        Assert.Equal(("solo", "orchestrator", "process", "—"), (solo["name"], solo["type"], solo["runtime"], solo["cluster"]));
        var compute = rows.Where(r => r["cluster"] == "compute").ToList();
        Assert.Equal(3, compute.Count);
        Assert.All(compute, r => Assert.Matches(@"^http://127\.0\.0\.1:\d+$", r["endpoint"]));
        Assert.All(compute, r => Assert.Matches("^0x[0-9a-f]{40}$", r["address@title"]));
        Assert.Equal("9 vPods", await view.Page.Locator("#count").TextContentAsync());

        await UiScreenshots.SaveAsync(view.Page, "vpods");
        Assert.Empty(view.Errors);
        await view.Page.Context.CloseAsync();
    }

    [Fact]
    public async Task TheClustersView_ShowsPhasesMembersLeaderTermAndLeaderHistory_AsTheApiDoes()
    {
        var view = await fixture.OpenAsync("/ui/clusters");
        var mismatch = await Eventually.WaitAsync(() => ClusterMismatchesAsync(view), m => m.Length == 0, "the clusters page to show what the API shows", Settle);
        Assert.Equal(string.Empty, mismatch);

        var clusters = await view.TableAsync("#clusters");
        Assert.Equal(["compute", "orch", "validators"], clusters.Select(c => c["key"]));
        var orch = clusters.Single(c => c["key"] == "orch");
        Assert.Matches("^vpod-orch-[01]$", orch["leader"]);
        Assert.True(long.Parse(orch["term"], CultureInfo.InvariantCulture) >= 1);
        Assert.True(int.Parse(orch["changes"], CultureInfo.InvariantCulture) >= 1);

        // The leader's member row carries the leader badge, and the history's newest entry names the leader and term.
        var members = await view.TableAsync("section[data-key='orch'] table.members");
        Assert.Equal("leader", members.Single(m => m["key"] == orch["leader"])["leader"]);
        var history = await view.TableAsync("section[data-key='orch'] table.history");
        Assert.Equal((orch["term"], orch["leader"]), (history[0]["term"], history[0]["leader"]));
        Assert.True(await view.Page.Locator("section[data-key='compute'] .history-block").IsHiddenAsync());

        await UiScreenshots.SaveAsync(view.Page, "clusters");
        Assert.Empty(view.Errors);
        await view.Page.Context.CloseAsync();
    }

    [Fact]
    public async Task TheJobViews_ShowRoundsWithAccuracyPlotParticipantsTimingsAndTheirRecordOnChain()
    {
        var status = await fixture.Cli.JsonAsync("job", "status", "--id", fixture.JobId);
        var results = status.GetProperty("results").EnumerateArray().ToList();
        var timings = status.GetProperty("timings").EnumerateArray().ToDictionary(t => t.GetProperty("round").GetInt32());
        Assert.Equal(2, results.Count);

        // The list: the job, its phase, progress and final accuracy.
        var view = await fixture.OpenAsync("/ui/jobs");
        var page = view.Page;
        await page.Locator($"#jobs tr[data-key='{fixture.JobId}'] td[data-field='phase']").Filter(new() { HasText = "Completed" }).WaitForAsync();
        var listed = (await view.TableAsync("#jobs")).Single(j => j["key"] == fixture.JobId);
        Assert.Equal("2/2", listed["round"]);
        Assert.Equal(status.GetProperty("results")[1].GetProperty("accuracy").GetDouble(), double.Parse(listed["accuracy@value"], CultureInfo.InvariantCulture));
        Assert.Equal($"/ui/jobs/{fixture.JobId}", listed["id@href"]);
        await UiScreenshots.SaveAsync(page, "jobs");

        // The job: one row per round, as job status gives them.
        // As for the dashboard link: waiting starts before the click and ends when the navigation commits; the content is awaited next.
        await Task.WhenAll(
            page.WaitForURLAsync($"**/ui/jobs/{fixture.JobId}", new() { WaitUntil = WaitUntilState.Commit, Timeout = 60_000 }),
            page.Locator($"#jobs tr[data-key='{fixture.JobId}'] a").ClickAsync());
        await page.Locator("#rounds > tbody > tr").Nth(1).WaitForAsync();
        var rounds = await view.TableAsync("#rounds");
        Assert.Equal(["1", "2"], rounds.Select(r => r["key"]));
        foreach (var result in results)
        {
            var number = result.GetProperty("round").GetInt32();
            var row = rounds.Single(r => r["key"] == number.ToString(CultureInfo.InvariantCulture));
            var accuracy = result.GetProperty("accuracy").GetDouble();
            Assert.Equal(accuracy, double.Parse(row["accuracy@value"], CultureInfo.InvariantCulture));
            Assert.Equal(accuracy.ToString("F4", CultureInfo.InvariantCulture), row["accuracy"]);
            var participants = result.GetProperty("participants").EnumerateArray().Select(p => p.GetString()!).ToList();
            Assert.Equal(string.Join(' ', participants), row["participants@value"]);
            Assert.Equal(participants.Count.ToString(CultureInfo.InvariantCulture), row["participants"]);
            Assert.Equal(result.GetProperty("txHash").GetString(), row["tx@title"]);
            Assert.Equal($"/ui/jobs/{fixture.JobId}/rounds/{number}", row["tx@href"]);
            var timing = timings[number];
            foreach (var (field, property) in new[] { ("dispatch", "dispatchMs"), ("training", "slowestTrainingMs"), ("collection", "collectionMs"), ("stream", "streamDeliveryMs"), ("aggregation", "aggregationMs"), ("finalization", "finalizationMs"), ("total", "totalMs") })
            {
                Assert.Equal(timing.GetProperty(property).GetDouble(), double.Parse(row[field + "@value"], CultureInfo.InvariantCulture));
            }

            Assert.Matches(@"^\d+(\.\d\d)? m?s$", row["total"]);
        }

        // The plot: a point per round at its exact accuracy, in order.
        var points = await page.EvaluateAsync<JsonElement>("() => [...document.querySelectorAll('#accuracy-plot circle.point')].map(c => [Number(c.dataset.round), Number(c.dataset.accuracy), Number(c.getAttribute('cy'))])");
        var plotted = points.EnumerateArray().Select(p => (Round: p[0].GetInt32(), Accuracy: p[1].GetDouble(), Y: p[2].GetDouble())).ToList();
        Assert.Equal(results.Select(r => (r.GetProperty("round").GetInt32(), r.GetProperty("accuracy").GetDouble())), plotted.Select(p => (p.Round, p.Accuracy)));
        Assert.Equal(plotted[0].Accuracy < plotted[1].Accuracy, plotted[0].Y > plotted[1].Y);
        Assert.Equal(1, await page.Locator("#accuracy-plot polyline.line").CountAsync());
        Assert.Equal("Completed", await view.FactAsync("phase"));
        await UiScreenshots.SaveAsync(page, "job");

        // The transaction link: the round as the registry on chain records it, the same as chain round says.
        var onChain = await fixture.Cli.JsonAsync("chain", "round", "--job", fixture.JobId, "--round", "1");
        await Task.WhenAll(
            page.WaitForURLAsync($"**/ui/jobs/{fixture.JobId}/rounds/1", new() { WaitUntil = WaitUntilState.Commit, Timeout = 60_000 }),
            page.Locator("#rounds tr[data-key='1'] td[data-field='tx'] a").ClickAsync());
        await Assertions.Expect(page.Locator("dd[data-field='transactionHash']")).ToHaveTextAsync(onChain.GetProperty("transactionHash").GetString()!);
        Assert.Equal(results[0].GetProperty("txHash").GetString(), await view.FactAsync("transactionHash"), StringComparer.OrdinalIgnoreCase);
        Assert.Equal(onChain.GetProperty("blockNumber").GetInt64().ToString(CultureInfo.InvariantCulture), await view.FactAsync("blockNumber"));
        Assert.Equal(onChain.GetProperty("resultHash").GetString(), await view.FactAsync("resultHash"));
        Assert.Equal(onChain.GetProperty("modelCid").GetString(), await view.FactAsync("modelCid"));
        Assert.Equal(("yes", "yes", "yes"), (await view.FactAsync("finalized"), await view.FactAsync("verified"), await view.FactAsync("matchesJob")));
        await UiScreenshots.SaveAsync(page, "round");

        Assert.Empty(view.Errors);
        await page.Context.CloseAsync();
    }

    [Fact]
    public async Task TheVPodsView_ShowsAStoppedVPod_WithoutAReload()
    {
        var view = await fixture.OpenAsync("/ui/vpods");
        var phase = view.Page.Locator($"#vpods tr[data-key='{fixture.Solo}'] td[data-field='phase']");
        await Assertions.Expect(phase).ToHaveTextAsync("Running");
        await view.MarkDocumentAsync();

        var stopped = await fixture.Client.ManageVPodAsync(fixture.Solo, VPodAction.Stop, new StopOptions(Force: true));
        Assert.NotEqual(VPodPhase.Running, stopped.Phase);

        await Assertions.Expect(phase).ToHaveTextAsync("Stopped", new() { Timeout = 30_000 });
        Assert.True(await view.IsSameDocumentAsync(), "the page was reloaded");
        Assert.Equal(VPodPhase.Stopped, (await fixture.Client.CheckVPodStatusAsync(fixture.Solo)).Phase);
        await UiScreenshots.SaveAsync(view.Page, "vpods-stopped");

        // And back: started again, the same row shows it running.
        await fixture.Client.ManageVPodAsync(fixture.Solo, VPodAction.Start);
        await Assertions.Expect(phase).ToHaveTextAsync("Running", new() { Timeout = 30_000 });
        Assert.True(await view.IsSameDocumentAsync(), "the page was reloaded");
        Assert.Empty(view.Errors);
        await view.Page.Context.CloseAsync();
    }

    [Fact]
    public async Task TheJobView_ShowsEachNewRound_WithoutAReload()
    {
        // The page is opened first, for a job that does not exist yet (it says so and keeps asking); then the job runs.
        var jobId = MetaNodeClient.NewJobId();
        var view = await fixture.OpenAsync($"/ui/jobs/{jobId}");
        var page = view.Page;
        await Assertions.Expect(page.Locator("#error")).ToContainTextAsync($"Federated job '{jobId}' was not found");
        await view.MarkDocumentAsync();
        await page.EvaluateAsync(
            """
            () => {
              window.__roundCounts = [document.querySelectorAll('#rounds > tbody > tr').length];
              new MutationObserver(() => {
                const count = document.querySelectorAll('#rounds > tbody > tr').length;
                if (window.__roundCounts[window.__roundCounts.length - 1] !== count) window.__roundCounts.push(count);
              }).observe(document.querySelector('#rounds > tbody'), { childList: true });
            }
            """);

        var started = await fixture.RunJobAsync(rounds: 3, detach: true, "--job-id", jobId);
        Assert.Equal(jobId, started.GetProperty("jobId").GetString());

        await Assertions.Expect(page.Locator("#rounds > tbody > tr")).ToHaveCountAsync(3, new() { Timeout = 240_000 });
        await Assertions.Expect(page.Locator("dd[data-field='phase']")).ToHaveTextAsync("Completed", new() { Timeout = 60_000 });
        Assert.True(await page.Locator("#error").IsHiddenAsync());
        Assert.True(await view.IsSameDocumentAsync(), "the page was reloaded");
        var counts = (await page.EvaluateAsync<int[]>("() => window.__roundCounts")).ToList();
        Assert.Equal(0, counts[0]);
        Assert.Equal(3, counts[^1]);
        Assert.Equal(counts.Order(), counts);

        var status = await fixture.Cli.JsonAsync("job", "status", "--id", jobId);
        var rows = await view.TableAsync("#rounds");
        Assert.Equal(
            status.GetProperty("results").EnumerateArray().Select(r => r.GetProperty("accuracy").GetDouble()),
            rows.Select(r => double.Parse(r["accuracy@value"], CultureInfo.InvariantCulture)));
        Assert.Equal(3, await page.Locator("#accuracy-plot circle.point").CountAsync());
        await UiScreenshots.SaveAsync(page, "job-live");

        // The only errors were the job's absence before it started.
        Assert.All(view.Errors, e => Assert.Contains("404", e, StringComparison.Ordinal));
        await page.Context.CloseAsync();
    }

    /// <summary>Where the vPods page differs from the API now (empty when it shows the same).</summary>
    private async Task<string> VPodMismatchesAsync(ViewPage view)
    {
        var rows = (await view.TableAsync("#vpods")).ToDictionary(r => r["key"]);
        var listed = await fixture.Client.ListVPodsAsync();
        var problems = new StringBuilder();
        if (!rows.Keys.ToHashSet().SetEquals(listed.Select(v => v.Id)))
        {
            problems.Append($"ids: page [{string.Join(' ', rows.Keys.Order())}] api [{string.Join(' ', listed.Select(v => v.Id).Order())}]; ");
            return problems.ToString();
        }

        foreach (var summary in listed)
        {
            var status = await fixture.Client.CheckVPodStatusAsync(summary.Id);
            var row = rows[summary.Id];
            Compare(problems, summary.Id, "phase", status.Phase.ToString(), row["phase"]);
            Compare(problems, summary.Id, "health", status.Health.ToString(), row["health"]);
            Compare(problems, summary.Id, "restarts", status.RestartCount.ToString(CultureInfo.InvariantCulture), row["restarts"]);
            Compare(problems, summary.Id, "endpoint", status.Endpoint ?? status.Handle?.Endpoint ?? "—", row["endpoint"]);
            Compare(problems, summary.Id, "address", status.Address ?? string.Empty, row.GetValueOrDefault("address@title", string.Empty));
            Compare(problems, summary.Id, "name", status.Name, row["name"]);
            Compare(problems, summary.Id, "type", status.Type.ToString().ToLowerInvariant(), row["type"]);
            Compare(problems, summary.Id, "runtime", status.DeploymentMethod.ToString().ToLowerInvariant(), row["runtime"]);
        }

        return problems.ToString();
    }

    /// <summary>Where the clusters page differs from the API now (empty when it shows the same).</summary>
    private async Task<string> ClusterMismatchesAsync(ViewPage view)
    {
        var rows = (await view.TableAsync("#clusters")).ToDictionary(r => r["key"]);
        var listed = await fixture.Client.ListClustersAsync();
        var problems = new StringBuilder();
        if (!rows.Keys.ToHashSet().SetEquals(listed.Select(c => c.Name)))
        {
            return $"names: page [{string.Join(' ', rows.Keys.Order())}] api [{string.Join(' ', listed.Select(c => c.Name).Order())}]";
        }

        foreach (var summary in listed)
        {
            var status = await fixture.Client.GetClusterStatusAsync(summary.Name);
            var row = rows[summary.Name];
            Compare(problems, status.Name, "phase", status.Phase.ToString(), row["phase"]);
            Compare(problems, status.Name, "desired", status.Desired.ToString(CultureInfo.InvariantCulture), row["desired"]);
            Compare(problems, status.Name, "running", status.Running.ToString(CultureInfo.InvariantCulture), row["running"]);
            Compare(problems, status.Name, "members", string.Join(' ', status.Members.OrderBy(m => m.Ordinal).Select(m => m.Id)), row["members"]);
            Compare(problems, status.Name, "leader", status.Leader ?? "—", row["leader"]);
            Compare(problems, status.Name, "term", status.Term.ToString(CultureInfo.InvariantCulture), row["term"]);
            Compare(problems, status.Name, "changes", status.LeaderChanges.Count.ToString(CultureInfo.InvariantCulture), row["changes"]);
            var members = (await view.TableAsync($"section[data-key='{status.Name}'] table.members")).ToDictionary(m => m["key"]);
            foreach (var member in status.Members)
            {
                if (!members.TryGetValue(member.Id, out var shown))
                {
                    problems.Append($"{member.Id}: not shown; ");
                    continue;
                }

                Compare(problems, member.Id, "phase", member.Phase.ToString(), shown["phase"]);
                Compare(problems, member.Id, "silo", member.Silo ?? "—", shown["silo"]);
                Compare(problems, member.Id, "leader", member.IsLeader ? "leader" : "—", shown["leader"]);
            }
        }

        return problems.ToString();
    }

    private static void Compare(StringBuilder problems, string id, string field, string api, string page)
    {
        if (!string.Equals(api, page, StringComparison.Ordinal))
        {
            problems.Append($"{id} {field}: api '{api}' page '{page}'; ");
        }
    }
}

using System.Globalization;
using System.Text.Json;
using MetaNode.Client;
using MetaNode.Tests.Infrastructure;
using MetaNode.VPods;
using Microsoft.Playwright;

namespace MetaNode.Tests.Ui;

/// <summary>
/// One embedded silo process (TLS on, its dev chain) holding what the view shows: an orchestrator cluster with a leader,
/// a compute and a validator cluster, a vPod of its own (<see cref="Solo"/>), and a finished two-round federated job;
/// a viewer identity whose browser token opens the pages; headless Chromium.
/// </summary>
public sealed class MetaNodeViewFixture : IAsyncLifetime
{
    private static readonly string[] Sleeper = ["--cpu", "100m", "--memory", "16Mi", "--command", "sh -c 'exec sleep 600'"];

    private readonly string _root = Path.Combine(Path.GetTempPath(), "metanode-ui", Guid.NewGuid().ToString("N")[..10]);

    public SiloProcess Silo { get; private set; } = null!;

    public CliRunner Cli => Silo.Cli();

    /// <summary>The typed client with the silo's admin identity: what the CLI reads, without a connection per call.</summary>
    public MetaNodeClient Client { get; private set; } = null!;

    public HeadlessChromium Chromium { get; private set; } = null!;

    /// <summary>A browser token of the viewer identity <c>ui-viewer</c>.</summary>
    public string ViewerToken { get; private set; } = string.Empty;

    /// <summary>A vPod outside any cluster, for the live test to stop.</summary>
    public string Solo { get; private set; } = string.Empty;

    /// <summary>The completed two-round job.</summary>
    public string JobId { get; private set; } = string.Empty;

    public async Task InitializeAsync()
    {
        Silo = new SiloProcess(
            Path.Combine(_root, "data"),
            $"--MetaNode:Chain:DevChain:AnvilPath={AnvilNode.BinaryPath}",
            "--MetaNode:Chain:ReceiptPollInterval=00:00:00.020",
            "--MetaNode:VPods:ProbeInterval=00:00:00.300",
            "--MetaNode:VPods:StartupProbeInterval=00:00:00.100",
            "--MetaNode:Capacity:Cpu=64",
            "--MetaNode:Federation:Jobs:PumpInterval=00:00:00.100",
            "--MetaNode:Orchestration:LeaseTtl=00:00:03",
            "--MetaNode:Orchestration:RenewalPeriod=00:00:00.500",
            "--MetaNode:Orchestration:MaxClockSkew=00:00:00.500");
        await Silo.StartAsync();
        Client = await MetaNodeClient.ConnectAsync(new MetaNodeClientOptions
        {
            Gateways = [Silo.Gateway],
            Identity = Silo.AdminIdentity,
            IdentityHome = Path.Combine(_root, "no-default-identities"),
            ConnectTimeout = TimeSpan.FromSeconds(20),
        });

        var launch = HeadlessChromium.LaunchAsync();
        await Task.WhenAll(
            DeployAsync("orch", 2, "orchestrator", ["--restart-policy", "always", .. Sleeper]),
            DeployAsync("compute", 3, "compute", "--cpu", "1", "--memory", "200Mi"),
            DeployAsync("validators", 3, "validator", "--cpu", "1", "--memory", "200Mi"),
            CreateSoloAsync());
        await Eventually.WaitAsync(() => Client.GetClusterStatusAsync("orch"), s => s.Leader is not null && s.Term >= 1, "a leader of orch", TimeSpan.FromSeconds(60));
        await Cli.JsonAsync("chain", "deploy", "--threshold", "2");

        JobId = (await RunJobAsync(rounds: 2, detach: false)).GetProperty("jobId").GetString()!;
        var status = await Cli.JsonAsync("job", "status", "--id", JobId);
        Assert.Equal("Completed", status.GetProperty("phase").GetString());

        var viewer = Path.Combine(_root, "identities", "ui-viewer");
        var granted = await Cli.RunAsync("access", "grant", "--name", "ui-viewer", "--role", "viewer", "--out", viewer);
        Assert.True(granted.ExitCode == 0, granted.ToString());
        ViewerToken = (await Cli.JsonAsync("access", "token", "--name", "ui-viewer", "--valid-for", "1h")).GetProperty("token").GetString()!;
        Chromium = await launch;
    }

    public async Task DisposeAsync()
    {
        if (Chromium is not null)
        {
            await Chromium.DisposeAsync();
        }

        if (Client is not null)
        {
            await Client.DisposeAsync();
        }

        await Silo.DisposeAsync();
        SiloProcess.KillWorkloadsUnder(_root);
        try
        {
            SiloProcess.DeleteSiloDirectories(Path.Combine(_root, "data"));
            Directory.Delete(_root, recursive: true);
        }
        catch (IOException)
        {
            // A file still held open by an exiting process: the temporary directory is left for the OS to clean.
        }
    }

    /// <summary>A federated-average job over the compute and validator clusters (JSON of <c>job run</c>).</summary>
    public Task<JsonElement> RunJobAsync(int rounds, bool detach, params string[] extra) =>
        Cli.JsonAsync([
            "job", "run", "--algorithm", "federated-average", "--compute-cluster", "compute", "--validator-cluster", "validators",
            "--dataset", "digits", "--rounds", rounds.ToString(CultureInfo.InvariantCulture), "--local-epochs", "1", "--quorum", "2", "--round-deadline", "60s",
            .. detach ? ["--detach"] : Array.Empty<string>(), .. extra]);

    /// <summary>A new browser page logged in with the viewer's token (the token is presented once; the cookie carries it on), then at <paramref name="path"/>.</summary>
    public async Task<ViewPage> OpenAsync(string path)
    {
        var page = await Chromium.NewPageAsync(Silo.HttpBase);
        var view = new ViewPage(page);
        var login = await page.GotoAsync("/login?token=" + Uri.EscapeDataString(ViewerToken));
        Assert.Equal(200, login!.Status);
        if (path != "/dashboard/")
        {
            var response = await page.GotoAsync(path);
            Assert.Equal(200, response!.Status);
        }

        return view;
    }

    private async Task DeployAsync(string name, int count, string type, params string[] extra)
    {
        await Cli.JsonAsync(["cluster", "deploy", "--name", name, "--count", count.ToString(CultureInfo.InvariantCulture), "--type", type, .. extra]);
        await Eventually.WaitAsync(
            () => Client.GetClusterStatusAsync(name),
            s => s.Members.Count(m => m.Phase == VPodPhase.Running) == count,
            $"{count} running members of {name}",
            TimeSpan.FromSeconds(120));
    }

    private async Task CreateSoloAsync()
    {
        Solo = (await Cli.JsonAsync(["vpod", "create", "--name", "solo", "--type", "orchestrator", .. Sleeper])).GetProperty("id").GetString()!;
        await Eventually.WaitAsync(() => Client.CheckVPodStatusAsync(Solo), s => s.Phase == VPodPhase.Running, "solo running", TimeSpan.FromSeconds(60));
    }
}

/// <summary>A page of the view with what the tests read from it: tables by their kept rows, facts, and whether it ever navigated.</summary>
public sealed class ViewPage(IPage page)
{
    private readonly List<string> _errors = Subscribe(page);

    public IPage Page => page;

    /// <summary>Console errors and uncaught script errors so far (a refused resource or a CSP violation shows here).</summary>
    public IReadOnlyList<string> Errors => _errors;

    /// <summary>Each row of the table <paramref name="selector"/>: its key, each cell's text by field, and <c>field@value</c>, <c>field@title</c>, <c>field@href</c>.</summary>
    public async Task<List<Dictionary<string, string>>> TableAsync(string selector)
    {
        var rows = await page.EvaluateAsync<JsonElement>(
            """
            (selector) => [...document.querySelectorAll(selector + ' > tbody > tr')].map((row) => {
              const out = { key: row.dataset.key };
              for (const cell of row.cells) {
                const field = cell.dataset.field;
                out[field] = cell.textContent;
                if (cell.dataset.value !== undefined) out[field + '@value'] = cell.dataset.value;
                if (cell.title) out[field + '@title'] = cell.title;
                const a = cell.querySelector('a');
                if (a) out[field + '@href'] = a.getAttribute('href');
              }
              return out;
            })
            """,
            selector);
        return [.. rows.EnumerateArray().Select(r => r.EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetString() ?? string.Empty))];
    }

    /// <summary>The text of the fact <paramref name="field"/> (a <c>dd[data-field]</c>).</summary>
    public async Task<string> FactAsync(string field) => (await page.Locator($"dd[data-field='{field}']").TextContentAsync()) ?? string.Empty;

    /// <summary>Marks the document; <see cref="IsSameDocumentAsync"/> is true only while no reload or navigation replaced it.</summary>
    public Task MarkDocumentAsync() => page.EvaluateAsync("() => { window.__sameDocument = 'kept'; }");

    public async Task<bool> IsSameDocumentAsync() => await page.EvaluateAsync<string?>("() => window.__sameDocument ?? null") == "kept";

    private static List<string> Subscribe(IPage page)
    {
        var errors = new List<string>();
        page.Console += (_, message) =>
        {
            if (message.Type == "error")
            {
                lock (errors)
                {
                    errors.Add(message.Text);
                }
            }
        };
        page.PageError += (_, error) =>
        {
            lock (errors)
            {
                errors.Add(error);
            }
        };
        return errors;
    }
}

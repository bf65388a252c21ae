using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using MetaNode.Grains.Runtime;

namespace MetaNode.Tests.Infrastructure;

/// <summary>
/// A throwaway Prometheus (Debian's /usr/bin/prometheus, package prometheus) on a free loopback port with its own storage in a
/// temporary folder, scraping one target every second and evaluating rule files every second; stopped by its pid.
/// </summary>
public sealed class PrometheusServer : IAsyncDisposable
{
    /// <summary>The scrape job's name: the <c>job</c> label of every scraped series.</summary>
    public const string Job = "metanode";

    private readonly StringBuilder _output = new();
    private readonly DirectoryInfo _directory;
    private readonly HttpClient _http = new() { Timeout = TimeSpan.FromSeconds(10) };
    private Process? _process;

    private PrometheusServer(DirectoryInfo directory) => _directory = directory;

    public int Port { get; private set; }

    public Uri BaseUrl => new($"http://127.0.0.1:{Port}");

    public int Pid => _process?.Id ?? 0;

    /// <summary>Everything Prometheus logged so far (for failure messages).</summary>
    public string Output
    {
        get
        {
            lock (_output)
            {
                return _output.ToString();
            }
        }
    }

    /// <summary>The configuration file's text: 1 s scrape and evaluation intervals, one static target, the rule files.</summary>
    public static string Configuration(string target, IEnumerable<string> ruleFiles) =>
        $"""
        global:
          scrape_interval: 1s
          scrape_timeout: 1s
          evaluation_interval: 1s
        rule_files:
        {string.Concat(ruleFiles.Select(f => $"  - {JsonSerializer.Serialize(f)}\n"))}scrape_configs:
          - job_name: {Job}
            static_configs:
              - targets: [{JsonSerializer.Serialize(target)}]
        """;

    /// <summary>Starts Prometheus scraping <paramref name="target"/> (host:port, plain HTTP, path /metrics) and waits until <c>/-/ready</c> answers.</summary>
    /// <remarks>A port taken between choosing and binding it ("address already in use") is replaced, at most twice.</remarks>
    public static async Task<PrometheusServer> StartAsync(string target, IReadOnlyList<string> ruleFiles, TimeSpan? timeout = null)
    {
        var server = new PrometheusServer(Directory.CreateTempSubdirectory("metanode-prometheus-"));
        await File.WriteAllTextAsync(Path.Combine(server._directory.FullName, "prometheus.yml"), Configuration(target, ruleFiles));
        for (var attempt = 0; ; attempt++)
        {
            try
            {
                await server.StartOnceAsync(timeout ?? TimeSpan.FromSeconds(60));
                return server;
            }
            catch (InvalidOperationException) when (attempt < 2 && server.Output.Contains("address already in use", StringComparison.OrdinalIgnoreCase))
            {
                server._process?.Dispose();
                server._process = null;
                lock (server._output)
                {
                    server._output.Clear();
                }
            }
            catch
            {
                await server.DisposeAsync();
                throw;
            }
        }
    }

    /// <summary>An instant query's result (<c>/api/v1/query</c>): the array of series with their labels and value.</summary>
    public async Task<JsonElement> QueryAsync(string promql) =>
        (await GetDataAsync("/api/v1/query?query=" + Uri.EscapeDataString(promql))).GetProperty("result");

    /// <summary>The pending and firing alerts (<c>/api/v1/alerts</c>).</summary>
    public async Task<JsonElement> AlertsAsync() => (await GetDataAsync("/api/v1/alerts")).GetProperty("alerts");

    /// <summary>The loaded rule groups with each rule's health and last error (<c>/api/v1/rules</c>).</summary>
    public async Task<JsonElement> RuleGroupsAsync() => (await GetDataAsync("/api/v1/rules")).GetProperty("groups");

    /// <summary>The value of a one-series query result, or null when the result is empty.</summary>
    public static double? SingleValue(JsonElement result) => result.GetArrayLength() switch
    {
        0 => null,
        1 => double.Parse(result[0].GetProperty("value")[1].GetString()!, CultureInfo.InvariantCulture),
        var n => throw new InvalidOperationException($"the query returned {n} series: {result}"),
    };

    public async ValueTask DisposeAsync()
    {
        if (_process is { HasExited: false } process)
        {
            _ = Kill(process.Id, 15);
            using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(15));
            try
            {
                await process.WaitForExitAsync(deadline.Token);
            }
            catch (OperationCanceledException)
            {
                process.Kill();
                await process.WaitForExitAsync();
            }
        }

        _process?.Dispose();
        _http.Dispose();
        try
        {
            _directory.Delete(recursive: true);
        }
        catch (IOException)
        {
            // A file still held by the exiting process: the temporary folder is left for the OS to clean.
        }
    }

    private async Task<JsonElement> GetDataAsync(string pathAndQuery)
    {
        using var response = await _http.GetAsync(new Uri(BaseUrl, pathAndQuery));
        var body = await response.Content.ReadAsStringAsync();
        if (response.StatusCode != HttpStatusCode.OK)
        {
            throw new InvalidOperationException($"Prometheus answered {(int)response.StatusCode} to {pathAndQuery}: {body}");
        }

        using var document = JsonDocument.Parse(body);
        return document.RootElement.GetProperty("data").Clone();
    }

    private async Task StartOnceAsync(TimeSpan timeout)
    {
        Port = LoopbackPorts.Free();
        var info = new ProcessStartInfo("prometheus")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = _directory.FullName,
        };
        foreach (var argument in new[]
        {
            $"--config.file={Path.Combine(_directory.FullName, "prometheus.yml")}",
            $"--storage.tsdb.path={Path.Combine(_directory.FullName, "data")}",
            $"--web.listen-address=127.0.0.1:{Port}",
        })
        {
            info.ArgumentList.Add(argument);
        }

        try
        {
            _process = Process.Start(info) ?? throw new InvalidOperationException("could not start prometheus");
        }
        catch (System.ComponentModel.Win32Exception exception)
        {
            throw new InvalidOperationException($"prometheus is required (Debian: apt-get install prometheus; .ci/run installs it when missing): {exception.Message}", exception);
        }

        _process.OutputDataReceived += (_, e) => Append(e.Data);
        _process.ErrorDataReceived += (_, e) => Append(e.Data);
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();

        var watch = Stopwatch.StartNew();
        while (watch.Elapsed < timeout)
        {
            if (_process.HasExited)
            {
                _process.WaitForExit();
                throw new InvalidOperationException($"prometheus exited with code {_process.ExitCode} before it was ready:\n{Output}");
            }

            try
            {
                using var response = await _http.GetAsync(new Uri(BaseUrl, "/-/ready"));
                if (response.StatusCode == HttpStatusCode.OK)
                {
                    return;
                }
            }
            catch (Exception exception) when (exception is HttpRequestException or TaskCanceledException)
            {
            }

            await Task.Delay(100);
        }

        throw new TimeoutException($"prometheus was not ready on {BaseUrl} within {timeout.TotalSeconds}s:\n{Output}");
    }

    private void Append(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (_output)
        {
            _output.AppendLine(line);
        }
    }

    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static extern int Kill(int pid, int signal);
}

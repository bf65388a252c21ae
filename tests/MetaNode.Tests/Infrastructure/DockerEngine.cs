using System.Diagnostics;
using System.Formats.Tar;
using System.Security.Cryptography;
using System.Text;
using Docker.DotNet;
using Docker.DotNet.Models;

namespace MetaNode.Tests.Infrastructure;

/// <summary>
/// A Docker Engine for integration tests. When <c>METANODE_TEST_DOCKER_HOST</c> names one (CI starts it), that engine is used;
/// otherwise a private <c>dockerd</c> is started (as root) with its own socket, data, exec root and pid file under the temporary
/// directory, host networking only (no bridge, no iptables), and stopped by its pid on dispose. Its data root is kept between
/// runs (per checkout) so the images are built once. Missing images are built with <c>scripts/build-images.sh</c>.
/// </summary>
public sealed class DockerEngine : IAsyncLifetime
{
    public const string HostVariable = "METANODE_TEST_DOCKER_HOST";
    public const string ComputeImage = "metanode/compute-vpod:latest";
    public const string BusyboxImage = "metanode/busybox:latest";

    private static readonly TimeSpan ReadyTimeout = TimeSpan.FromSeconds(60);
    private static readonly TimeSpan BuildTimeout = TimeSpan.FromMinutes(15);

    private Process? _dockerd;
    private string? _root;
    private DockerClientConfiguration? _configuration;

    /// <summary>The engine's endpoint (<c>unix:///…/docker.sock</c>).</summary>
    public string Endpoint { get; private set; } = string.Empty;

    public DockerClient Client { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        var external = Environment.GetEnvironmentVariable(HostVariable);
        if (!string.IsNullOrWhiteSpace(external))
        {
            Endpoint = external.Trim();
        }
        else
        {
            await StartLocalDaemonAsync();
        }

        _configuration = new DockerClientConfiguration(new Uri(Endpoint));
        Client = _configuration.CreateClient();
        await Eventually.WaitAsync(
            async () => { await Client.System.PingAsync(); return true; },
            ok => ok,
            $"the Docker Engine at {Endpoint} to answer /_ping{(_root is null ? string.Empty : $" (log: {Path.Combine(_root, "dockerd.log")})")}",
            ReadyTimeout);
        await EnsureImagesAsync();
    }

    /// <summary>The containers labelled as the vPod's (running or not).</summary>
    public async Task<IList<ContainerListResponse>> ContainersOfAsync(string vpodId) =>
        await Client.Containers.ListContainersAsync(new ContainersListParameters
        {
            All = true,
            Filters = new Dictionary<string, IDictionary<string, bool>> { ["label"] = new Dictionary<string, bool> { [$"io.metanode.vpod={vpodId}"] = true } },
        });

    /// <summary>One file's bytes, read from a container (running or not) through the engine's archive API.</summary>
    public async Task<byte[]> ReadFileAsync(string containerId, string path)
    {
        var archive = await Client.Containers.GetArchiveFromContainerAsync(containerId, new GetArchiveFromContainerParameters { Path = path }, statOnly: false);

        // The whole archive first: the client's chunked response stream fails when a tar reader reads past its last chunk.
        using var whole = new MemoryStream();
        using (var stream = archive.Stream)
        {
            await stream.CopyToAsync(whole);
        }

        whole.Position = 0;
        using var reader = new TarReader(whole);
        var entry = await reader.GetNextEntryAsync() ?? throw new InvalidOperationException($"{path}: the engine sent an empty archive");
        if (entry.EntryType is not (TarEntryType.RegularFile or TarEntryType.V7RegularFile) || entry.Name != Path.GetFileName(path))
        {
            throw new InvalidOperationException($"{path}: the engine sent {entry.EntryType} '{entry.Name}', not the file");
        }

        using var content = new MemoryStream();
        if (entry.DataStream is { } data)
        {
            await data.CopyToAsync(content);
        }

        return content.ToArray();
    }

    /// <summary>The volumes labelled as the vPod's.</summary>
    public async Task<IList<VolumeResponse>> VolumesOfAsync(string vpodId) =>
        (await Client.Volumes.ListAsync(new VolumesListParameters
        {
            Filters = new Dictionary<string, IDictionary<string, bool>> { ["label"] = new Dictionary<string, bool> { [$"io.metanode.vpod={vpodId}"] = true } },
        })).Volumes ?? [];

    public async Task DisposeAsync()
    {
        if (Client is not null)
        {
            // Whatever a failed test left behind.
            var leftovers = await Client.Containers.ListContainersAsync(new ContainersListParameters
            {
                All = true,
                Filters = new Dictionary<string, IDictionary<string, bool>> { ["label"] = new Dictionary<string, bool> { ["io.metanode.vpod"] = true } },
            });
            foreach (var container in leftovers)
            {
                await Client.Containers.RemoveContainerAsync(container.ID, new ContainerRemoveParameters { Force = true, RemoveVolumes = true });
            }

            Client.Dispose();
        }

        _configuration?.Dispose();
        if (_dockerd is { } dockerd)
        {
            if (!dockerd.HasExited)
            {
                _ = Kill(dockerd.Id, 15);
                using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
                try
                {
                    await dockerd.WaitForExitAsync(timeout.Token);
                }
                catch (OperationCanceledException)
                {
                    dockerd.Kill();
                    await dockerd.WaitForExitAsync();
                }
            }

            dockerd.Dispose();
            await UnmountUnderAsync(_root!);
        }
    }

    /// <summary>dockerd leaves its network-namespace bind mount under the exec root when it stops: unmount what lies under <paramref name="root"/>.</summary>
    private static async Task UnmountUnderAsync(string root)
    {
        var prefix = root.TrimEnd('/') + "/";
        var mounts = (await File.ReadAllLinesAsync("/proc/mounts"))
            .Select(line => line.Split(' '))
            .Where(fields => fields.Length > 1 && fields[1].StartsWith(prefix, StringComparison.Ordinal))
            .Select(fields => fields[1])
            .OrderByDescending(path => path.Length)
            .ToList();
        foreach (var mount in mounts)
        {
            using var umount = Process.Start(new ProcessStartInfo("umount", [mount]) { UseShellExecute = false, RedirectStandardError = true });
            if (umount is not null)
            {
                await umount.WaitForExitAsync();
            }
        }
    }

    /// <summary>The repository root (the directory holding MetaNode.Grains.sln).</summary>
    public static string RepositoryRoot()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "MetaNode.Grains.sln")))
            {
                return directory.FullName;
            }
        }

        throw new InvalidOperationException($"MetaNode.Grains.sln was not found above {AppContext.BaseDirectory}.");
    }

    private async Task StartLocalDaemonAsync()
    {
        var dockerd = new[] { "/usr/sbin/dockerd", "/usr/bin/dockerd" }.FirstOrDefault(File.Exists)
            ?? throw new InvalidOperationException($"dockerd was not found: install docker.io (apt-get install docker.io) or set {HostVariable} to a running engine (unix:///path/docker.sock).");
        var key = Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(RepositoryRoot())))[..10].ToLowerInvariant();
        _root = Path.Combine(Path.GetTempPath(), "metanode-dockerd-" + key);
        Directory.CreateDirectory(_root);
        var socket = Path.Combine(_root, "docker.sock");
        var pidFile = Path.Combine(_root, "dockerd.pid");
        StopLeftover(pidFile);
        await UnmountUnderAsync(Path.Combine(_root, "exec"));
        File.Delete(socket);
        Endpoint = "unix://" + socket;

        var info = new ProcessStartInfo(dockerd)
        {
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (var argument in new[]
        {
            "--host", Endpoint, "--data-root", Path.Combine(_root, "data"), "--exec-root", Path.Combine(_root, "exec"),
            "--pidfile", pidFile, "--storage-driver=overlay2", "--bridge=none", "--iptables=false", "--ip-masq=false",
        })
        {
            info.ArgumentList.Add(argument);
        }

        var log = new StreamWriter(Path.Combine(_root, "dockerd.log"), append: false) { AutoFlush = true };
        _dockerd = Process.Start(info) ?? throw new InvalidOperationException("dockerd could not be started.");
        _dockerd.OutputDataReceived += (_, e) => Write(log, e.Data);
        _dockerd.ErrorDataReceived += (_, e) => Write(log, e.Data);
        _dockerd.BeginOutputReadLine();
        _dockerd.BeginErrorReadLine();
    }

    private static void Write(StreamWriter log, string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (log)
        {
            log.WriteLine(line);
        }
    }

    /// <summary>A daemon a killed test run left on this data root: stop it by the pid it wrote, and only when that pid is a dockerd.</summary>
    private static void StopLeftover(string pidFile)
    {
        if (!File.Exists(pidFile) || !int.TryParse(File.ReadAllText(pidFile).Trim(), out var pid))
        {
            return;
        }

        try
        {
            var commandLine = File.ReadAllText($"/proc/{pid}/cmdline");
            if (!commandLine.Contains("dockerd", StringComparison.Ordinal) || !commandLine.Contains(pidFile, StringComparison.Ordinal))
            {
                return;
            }

            using var process = Process.GetProcessById(pid);
            _ = Kill(pid, 15);
            if (!process.WaitForExit(TimeSpan.FromSeconds(30)))
            {
                process.Kill();
                process.WaitForExit();
            }
        }
        catch (Exception exception) when (exception is IOException or ArgumentException or InvalidOperationException)
        {
            // Not running any more.
        }
    }

    private async Task EnsureImagesAsync()
    {
        // An image is built when it is missing or was built from other sources than the checkout's (its metanode.source label).
        var missing = new List<string>();
        foreach (var (image, name) in new[] { (ComputeImage, "compute-vpod"), (BusyboxImage, "busybox") })
        {
            try
            {
                var inspected = await Client.Images.InspectImageAsync(image);
                string? built = null;
                _ = inspected.Config?.Labels?.TryGetValue("metanode.source", out built);
                if (built != await SourceHashAsync(name))
                {
                    missing.Add(name);
                }
            }
            catch (DockerImageNotFoundException)
            {
                missing.Add(name);
            }
        }

        if (missing.Count == 0)
        {
            return;
        }

        var info = new ProcessStartInfo("bash")
        {
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = RepositoryRoot(),
        };
        info.ArgumentList.Add("scripts/build-images.sh");
        foreach (var name in missing)
        {
            info.ArgumentList.Add(name);
        }

        info.Environment["DOCKER_HOST"] = Endpoint;
        using var build = Process.Start(info) ?? throw new InvalidOperationException("scripts/build-images.sh could not be started.");
        var stdout = build.StandardOutput.ReadToEndAsync();
        var stderr = build.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(BuildTimeout);
        await build.WaitForExitAsync(timeout.Token);
        if (build.ExitCode != 0)
        {
            throw new InvalidOperationException($"scripts/build-images.sh {string.Join(' ', missing)} failed with exit code {build.ExitCode}:\n{await stdout}\n{await stderr}");
        }
    }

    private static async Task<string> SourceHashAsync(string image)
    {
        var info = new ProcessStartInfo("bash") { UseShellExecute = false, RedirectStandardOutput = true, WorkingDirectory = RepositoryRoot() };
        info.ArgumentList.Add("scripts/build-images.sh");
        info.ArgumentList.Add("--source-hash");
        info.ArgumentList.Add(image);
        using var process = Process.Start(info) ?? throw new InvalidOperationException("scripts/build-images.sh could not be started.");
        var hash = (await process.StandardOutput.ReadToEndAsync()).Trim();
        await process.WaitForExitAsync();
        return process.ExitCode == 0 && hash.Length > 0 ? hash : throw new InvalidOperationException($"scripts/build-images.sh --source-hash {image} failed with exit code {process.ExitCode}.");
    }

    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static extern int Kill(int pid, int signal);
}

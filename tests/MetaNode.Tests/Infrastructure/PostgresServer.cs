using System.Diagnostics;
using System.Net;
using System.Text;
using MetaNode.Grains.Runtime;
using Npgsql;

namespace MetaNode.Tests.Infrastructure;

/// <summary>The xUnit collection whose test classes share one <see cref="PostgresServer"/>.</summary>
[CollectionDefinition(Name)]
public sealed class PostgresCollection : ICollectionFixture<PostgresServer>
{
    public const string Name = "postgres";
}

/// <summary>
/// A throwaway PostgreSQL 15 server for integration tests: a fresh cluster in a temporary directory,
/// listening only on 127.0.0.1 on a free port (its unix socket inside the data directory), stopped and
/// deleted on dispose. Each caller gets its own database from <see cref="CreateDatabaseAsync"/>.
/// </summary>
/// <remarks>
/// When the environment variable <c>METANODE_TEST_PG</c> holds a connection string, that server is used
/// instead (its user must be allowed to create databases); the databases created on it are dropped on dispose.
/// </remarks>
public sealed class PostgresServer : IAsyncLifetime
{
    public const string ConnectionStringVariable = "METANODE_TEST_PG";

    private const string BinDirectory = "/usr/lib/postgresql/15/bin";
    private const string ServiceUser = "postgres";
    private static readonly TimeSpan CommandTimeout = TimeSpan.FromMinutes(2);

    private readonly List<string> _createdDatabases = [];
    private readonly SemaphoreSlim _createGate = new(1, 1);
    private string? _rootDirectory;
    private string? _dataDirectory;
    private bool _started;
    private NpgsqlConnectionStringBuilder? _admin;

    /// <summary>True when the server comes from <c>METANODE_TEST_PG</c> rather than being started here.</summary>
    public bool IsExternal { get; private set; }

    /// <summary>The port the server listens on.</summary>
    public int Port => Admin.Port;

    /// <summary>A connection string for the maintenance database, as a superuser (or the external user).</summary>
    public string AdminConnectionString => Admin.ConnectionString;

    private NpgsqlConnectionStringBuilder Admin =>
        _admin ?? throw new InvalidOperationException("The PostgreSQL server has not been initialized.");

    public async Task InitializeAsync()
    {
        var external = Environment.GetEnvironmentVariable(ConnectionStringVariable);
        if (!string.IsNullOrWhiteSpace(external))
        {
            IsExternal = true;
            _admin = new NpgsqlConnectionStringBuilder(external);
            await WaitUntilAcceptingAsync(TimeSpan.FromSeconds(30)).ConfigureAwait(false);
            return;
        }

        try
        {
            await StartLocalServerAsync().ConfigureAwait(false);
        }
        catch
        {
            await DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>
    /// Creates an empty database for one caller and returns a connection string to it. The name is made
    /// unique (a suffix is added), so callers may pass a descriptive name such as the test class.
    /// </summary>
    public async Task<string> CreateDatabaseAsync(string name, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        var database = ToDatabaseName(name);

        await _createGate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            await using var connection = new NpgsqlConnection(AdminConnectionString);
            await connection.OpenAsync(cancellationToken).ConfigureAwait(false);
            await using (var drop = new NpgsqlCommand($"DROP DATABASE IF EXISTS \"{database}\" WITH (FORCE)", connection))
            {
                await drop.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            }

            await using (var create = new NpgsqlCommand($"CREATE DATABASE \"{database}\" TEMPLATE template0 ENCODING 'UTF8'", connection))
            {
                await create.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            }

            _createdDatabases.Add(database);
        }
        finally
        {
            _createGate.Release();
        }

        return new NpgsqlConnectionStringBuilder(AdminConnectionString) { Database = database }.ConnectionString;
    }

    public async Task DisposeAsync()
    {
        NpgsqlConnection.ClearAllPools();
        if (IsExternal)
        {
            await DropCreatedDatabasesAsync().ConfigureAwait(false);
            return;
        }

        if (_started && _dataDirectory is not null)
        {
            await RunAsync(Binary("pg_ctl"), ["-D", _dataDirectory, "-m", "immediate", "-w", "stop"], throwOnFailure: false)
                .ConfigureAwait(false);
            _started = false;
        }

        if (_rootDirectory is not null && Directory.Exists(_rootDirectory))
        {
            Directory.Delete(_rootDirectory, recursive: true);
        }
    }

    private async Task StartLocalServerAsync()
    {
        if (!File.Exists(Binary("initdb")))
        {
            throw new InvalidOperationException(
                $"PostgreSQL 15 binaries were not found in {BinDirectory}; install postgresql-15 or set {ConnectionStringVariable} to a server's connection string.");
        }

        _rootDirectory = Path.Combine(Path.GetTempPath(), "metanode-pg-" + Guid.NewGuid().ToString("N")[..12]);
        _dataDirectory = Path.Combine(_rootDirectory, "data");
        Directory.CreateDirectory(_rootDirectory);
        if (IsRoot)
        {
            // initdb and the server refuse to run as root: hand the directory to the service account.
            await RunProcessAsync("chown", [ServiceUser + ":" + ServiceUser, _rootDirectory], throwOnFailure: true).ConfigureAwait(false);
        }

        await RunAsync(Binary("initdb"),
            ["-D", _dataDirectory, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--locale=C.UTF-8", "--no-sync"],
            throwOnFailure: true).ConfigureAwait(false);

        // SSL on, with a certificate of its own: clients use it where the server offers it (Npgsql's default, SslMode=Prefer).
        var certificateFile = Path.Combine(_rootDirectory, "server.crt");
        var keyFile = Path.Combine(_rootDirectory, "server.key");
        using (var key = System.Security.Cryptography.ECDsa.Create(System.Security.Cryptography.ECCurve.NamedCurves.nistP256))
        {
            var request = new System.Security.Cryptography.X509Certificates.CertificateRequest("CN=127.0.0.1", key, System.Security.Cryptography.HashAlgorithmName.SHA256);
            using var certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddDays(7));
            await File.WriteAllTextAsync(certificateFile, certificate.ExportCertificatePem()).ConfigureAwait(false);
            await File.WriteAllTextAsync(keyFile, key.ExportPkcs8PrivateKeyPem()).ConfigureAwait(false);
            if (!OperatingSystem.IsWindows())
            {
                File.SetUnixFileMode(keyFile, UnixFileMode.UserRead | UnixFileMode.UserWrite);
            }
        }

        if (IsRoot)
        {
            await RunProcessAsync("chown", [ServiceUser + ":" + ServiceUser, certificateFile, keyFile], throwOnFailure: true).ConfigureAwait(false);
        }

        var port = LoopbackPorts.Free();
        var serverOptions = string.Join(' ',
            "-c ssl=on",
            $"-c ssl_cert_file={certificateFile}",
            $"-c ssl_key_file={keyFile}",
            "-c listen_addresses=127.0.0.1",
            $"-p {port}",
            $"-k {_dataDirectory}",
            "-c max_connections=300",
            "-c fsync=off",
            "-c synchronous_commit=off",
            "-c full_page_writes=off");
        var logFile = Path.Combine(_rootDirectory, "server.log");
        await RunAsync(Binary("pg_ctl"),
            ["-D", _dataDirectory, "-o", serverOptions, "-l", logFile, "-w", "-t", "60", "start"],
            throwOnFailure: true,
            failureDetail: () => File.Exists(logFile) ? File.ReadAllText(logFile) : string.Empty).ConfigureAwait(false);
        _started = true;

        _admin = new NpgsqlConnectionStringBuilder
        {
            Host = IPAddress.Loopback.ToString(),
            Port = port,
            Username = "postgres",
            Database = "postgres",
            Pooling = true,
        };
        await WaitUntilAcceptingAsync(TimeSpan.FromSeconds(30)).ConfigureAwait(false);
    }

    private async Task WaitUntilAcceptingAsync(TimeSpan timeout)
    {
        var deadline = Stopwatch.GetTimestamp() + (long)(timeout.TotalSeconds * Stopwatch.Frequency);
        while (true)
        {
            try
            {
                await using var connection = new NpgsqlConnection(AdminConnectionString);
                await connection.OpenAsync().ConfigureAwait(false);
                return;
            }
            catch (NpgsqlException) when (Stopwatch.GetTimestamp() < deadline)
            {
                await Task.Delay(TimeSpan.FromMilliseconds(200)).ConfigureAwait(false);
            }
        }
    }

    private async Task DropCreatedDatabasesAsync()
    {
        if (_createdDatabases.Count == 0)
        {
            return;
        }

        await using var connection = new NpgsqlConnection(AdminConnectionString);
        await connection.OpenAsync().ConfigureAwait(false);
        foreach (var database in _createdDatabases)
        {
            await using var drop = new NpgsqlCommand($"DROP DATABASE IF EXISTS \"{database}\" WITH (FORCE)", connection);
            await drop.ExecuteNonQueryAsync().ConfigureAwait(false);
        }

        _createdDatabases.Clear();
    }

    private static string ToDatabaseName(string name)
    {
        var builder = new StringBuilder();
        foreach (var character in name.ToLowerInvariant())
        {
            builder.Append(character is (>= 'a' and <= 'z') or (>= '0' and <= '9') or '_' ? character : '_');
            if (builder.Length == 40)
            {
                break;
            }
        }

        return "mn_" + builder + "_" + Guid.NewGuid().ToString("N")[..8];
    }

    private static bool IsRoot => string.Equals(Environment.UserName, "root", StringComparison.Ordinal);

    private static string Binary(string name) => Path.Combine(BinDirectory, name);

    /// <summary>Runs a PostgreSQL program, as the service account when this process is root.</summary>
    private static Task RunAsync(string program, IReadOnlyList<string> arguments, bool throwOnFailure, Func<string>? failureDetail = null)
    {
        if (!IsRoot)
        {
            return RunProcessAsync(program, arguments, throwOnFailure, failureDetail);
        }

        var command = string.Join(' ', new[] { program }.Concat(arguments).Select(ShellQuote));
        return RunProcessAsync("su", [ServiceUser, "-s", "/bin/sh", "-c", command], throwOnFailure, failureDetail);
    }

    private static string ShellQuote(string value) => "'" + value.Replace("'", "'\\''", StringComparison.Ordinal) + "'";

    private static async Task RunProcessAsync(string fileName, IReadOnlyList<string> arguments, bool throwOnFailure, Func<string>? failureDetail = null)
    {
        var startInfo = new ProcessStartInfo(fileName)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in arguments)
        {
            startInfo.ArgumentList.Add(argument);
        }

        using var process = Process.Start(startInfo)
            ?? throw new InvalidOperationException($"Could not start '{fileName}'.");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(CommandTimeout);
        try
        {
            await process.WaitForExitAsync(timeout.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"'{fileName} {string.Join(' ', arguments)}' did not finish within {CommandTimeout}.");
        }

        var output = await stdout.ConfigureAwait(false) + await stderr.ConfigureAwait(false);
        if (process.ExitCode != 0 && throwOnFailure)
        {
            throw new InvalidOperationException(
                $"'{fileName} {string.Join(' ', arguments)}' exited with code {process.ExitCode}:{Environment.NewLine}{output}{failureDetail?.Invoke()}");
        }
    }
}

using System.Net;
using MetaNode.Grains.Runtime;
using MetaNode.Silo.Persistence;
using MetaNode.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;
using Orleans.Configuration;
using Orleans.Storage;
using Orleans.TestingHost;

namespace MetaNode.Tests.Persistence;

/// <summary>The cluster profile end to end: Orleans' own ADO.NET providers running on the project's schema.</summary>
[Collection(PostgresCollection.Name)]
public sealed class PostgresClusterTests(PostgresServer server)
{
    private const int ActiveStatus = 3;
    private const int DeadStatus = 6;
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(90);

    [Fact]
    public async Task GrainState_SurvivesDeactivation_WhenStoredThroughAdoNet()
    {
        var connectionString = await CreateMigratedDatabaseAsync(nameof(GrainState_SurvivesDeactivation_WhenStoredThroughAdoNet));
        await using var cluster = await StartTestClusterAsync(connectionString);
        var grain = cluster.Client.GetGrain<IProbeGrain>("state-" + Guid.NewGuid().ToString("N"));

        await grain.SetAsync("hello");
        var before = await grain.GetAsync();
        await cluster.DeactivateAsync(grain);
        var after = await grain.GetAsync();

        Assert.NotEqual(before.ActivationId, after.ActivationId);
        Assert.Equal("hello", after.Value);
        Assert.Equal(1, after.Writes);
        Assert.True(after.RecordExists);
        Assert.Equal(before.ETag, after.ETag);
        Assert.Equal((1L, 1), await ReadStorageRowsAsync(connectionString, cluster.Options.ServiceId));

        await grain.SetAsync("again");
        await cluster.DeactivateAsync(grain);
        var third = await grain.GetAsync();
        Assert.Equal(("again", 2), (third.Value, third.Writes));
    }

    [Fact]
    public async Task GrainWrite_IsRejected_WhenTheStoredVersionMovedOn()
    {
        var connectionString = await CreateMigratedDatabaseAsync(nameof(GrainWrite_IsRejected_WhenTheStoredVersionMovedOn));
        await using var cluster = await StartTestClusterAsync(connectionString);
        var grain = cluster.Client.GetGrain<IProbeGrain>("stale-" + Guid.NewGuid().ToString("N"));
        await grain.SetAsync("first");

        await ExecuteAsync(connectionString, "UPDATE OrleansStorage SET Version = Version + 10");

        await Assert.ThrowsAsync<InconsistentStateException>(() => grain.SetAsync("second"));
        await cluster.DeactivateAsync(grain);
        Assert.Equal("first", (await grain.GetAsync()).Value);

        await grain.ClearAsync();
        await cluster.DeactivateAsync(grain);
        var cleared = await grain.GetAsync();
        Assert.False(cleared.RecordExists);
        Assert.Null(cleared.Value);
        Assert.Equal("12", cleared.ETag);
    }

    [Fact]
    public async Task Reminder_IsStoredListedAndFires_WhenTheTableIsAdoNet()
    {
        var connectionString = await CreateMigratedDatabaseAsync(nameof(Reminder_IsStoredListedAndFires_WhenTheTableIsAdoNet));
        await using var cluster = await StartTestClusterAsync(connectionString);
        var key = "reminder-" + Guid.NewGuid().ToString("N");
        var grain = cluster.Client.GetGrain<IProbeGrain>(key);

        await grain.RegisterReminderAsync("tick", TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(2));

        Assert.Equal(["tick"], await grain.GetReminderNamesAsync());
        Assert.Equal(
            [$"metanode-test-probe/{key}:tick"],
            await ReadStringsAsync(connectionString, "SELECT GrainId || ':' || ReminderName FROM OrleansRemindersTable"));
        await Await.UntilAsync(async () => (await grain.GetAsync()).ReminderTicks >= 1, Timeout, "the reminder 'tick' to fire");

        await grain.UnregisterRemindersAsync();
        Assert.Empty(await grain.GetReminderNamesAsync());
        Assert.Empty(await ReadStringsAsync(connectionString, "SELECT ReminderName FROM OrleansRemindersTable"));
    }

    [Fact]
    public async Task TwoSilos_JoinOneCluster_ThroughTheMembershipTable()
    {
        var connectionString = await CreateMigratedDatabaseAsync(nameof(TwoSilos_JoinOneCluster_ThroughTheMembershipTable));
        var clusterId = "cluster-" + Guid.NewGuid().ToString("N")[..8];
        var serviceId = "service-" + Guid.NewGuid().ToString("N")[..8];
        var ports = LoopbackPorts.Free(4);

        using var first = await StartSiloHostAsync(connectionString, clusterId, serviceId, "silo-a", ports[0], ports[1]);
        using var second = await StartSiloHostAsync(connectionString, clusterId, serviceId, "silo-b", ports[2], ports[3]);
        var stopped = false;
        try
        {
            await Await.UntilAsync(
                async () => (await ReadMemberStatusesAsync(connectionString, clusterId)).Count(s => s.Status == ActiveStatus) == 2,
                Timeout,
                "both silos to be Active in OrleansMembershipTable");
            var members = await ReadMemberStatusesAsync(connectionString, clusterId);
            Assert.Equal(new[] { (ports[0], ActiveStatus), (ports[2], ActiveStatus) }.Order(), members.Select(m => (m.Port, m.Status)));

            var membership = first.Services.GetRequiredService<IClusterMembershipService>();
            await Await.UntilAsync(
                () => Task.FromResult(membership.CurrentSnapshot.Members.Values.Count(m => m.Status == SiloStatus.Active) == 2),
                Timeout,
                "silo-a to see two active silos");

            using var client = await StartClientHostAsync(connectionString, clusterId, serviceId);
            var grain = client.Services.GetRequiredService<IClusterClient>().GetGrain<IProbeGrain>("joined-" + Guid.NewGuid().ToString("N"));
            await grain.SetAsync("through the gateway");
            Assert.Equal("through the gateway", (await grain.GetAsync()).Value);
            await client.StopAsync();

            await second.StopAsync();
            stopped = true;
            await Await.UntilAsync(
                async () => (await ReadMemberStatusesAsync(connectionString, clusterId)).Any(m => m.Port == ports[2] && m.Status == DeadStatus),
                Timeout,
                "silo-b to be marked Dead after it stopped");

            var table = first.Services.GetRequiredService<IMembershipTable>();
            await table.CleanupDefunctSiloEntriesAsync(DateTimeOffset.UtcNow.AddMinutes(1));
            Assert.Equal([(ports[0], ActiveStatus)], (await ReadMemberStatusesAsync(connectionString, clusterId)).Select(m => (m.Port, m.Status)));
        }
        finally
        {
            if (!stopped)
            {
                await second.StopAsync();
            }

            await first.StopAsync();
        }
    }

    private async Task<string> CreateMigratedDatabaseAsync(string name)
    {
        var connectionString = await server.CreateDatabaseAsync(name);
        await new PostgresMigrator(NullLogger<PostgresMigrator>.Instance).MigrateAsync(connectionString, CancellationToken.None);
        return connectionString;
    }

    private static Task<InProcessTestCluster> StartTestClusterAsync(string connectionString) => new TestSiloBuilder()
        .WithoutFileLogging()
        .ConfigureSilo(silo =>
        {
            silo.AddAdoNetGrainStorage(ProbeStorage.Name, options =>
            {
                options.Invariant = PostgresSchema.Invariant;
                options.ConnectionString = connectionString;
            });
            silo.UseAdoNetReminderService(options =>
            {
                options.Invariant = PostgresSchema.Invariant;
                options.ConnectionString = connectionString;
            });
            silo.Configure<ReminderOptions>(options => options.MinimumReminderPeriod = TimeSpan.FromSeconds(1));
        })
        .StartAsync();

    private static async Task<IHost> StartSiloHostAsync(string connectionString, string clusterId, string serviceId, string name, int siloPort, int gatewayPort)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings
        {
            ApplicationName = name,
            EnvironmentName = Environments.Development,
            DisableDefaults = true,
        });
        builder.UseOrleans(silo =>
        {
            silo.Configure<ClusterOptions>(options =>
            {
                options.ClusterId = clusterId;
                options.ServiceId = serviceId;
            });
            silo.Configure<SiloOptions>(options => options.SiloName = name);
            silo.ConfigureEndpoints(IPAddress.Loopback, siloPort, gatewayPort, listenOnAnyHostAddress: false);
            silo.UseAdoNetClustering(options =>
            {
                options.Invariant = PostgresSchema.Invariant;
                options.ConnectionString = connectionString;
            });
            silo.AddAdoNetGrainStorage(ProbeStorage.Name, options =>
            {
                options.Invariant = PostgresSchema.Invariant;
                options.ConnectionString = connectionString;
            });
            silo.UseAdoNetReminderService(options =>
            {
                options.Invariant = PostgresSchema.Invariant;
                options.ConnectionString = connectionString;
            });
        });
        var host = builder.Build();
        try
        {
            await host.StartAsync();
            return host;
        }
        catch
        {
            host.Dispose();
            throw;
        }
    }

    private static async Task<IHost> StartClientHostAsync(string connectionString, string clusterId, string serviceId)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings
        {
            ApplicationName = "client",
            EnvironmentName = Environments.Development,
            DisableDefaults = true,
        });
        builder.UseOrleansClient(client =>
        {
            client.Configure<ClusterOptions>(options =>
            {
                options.ClusterId = clusterId;
                options.ServiceId = serviceId;
            });
            client.UseAdoNetClustering(options =>
            {
                options.Invariant = PostgresSchema.Invariant;
                options.ConnectionString = connectionString;
            });
        });
        var host = builder.Build();
        try
        {
            await host.StartAsync();
            return host;
        }
        catch
        {
            host.Dispose();
            throw;
        }
    }

    private static async Task<List<(int Port, int Status)>> ReadMemberStatusesAsync(string connectionString, string clusterId)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(
            "SELECT Port, Status FROM OrleansMembershipTable WHERE DeploymentId = @cluster ORDER BY Port", connection);
        command.Parameters.AddWithValue("cluster", clusterId);
        await using var reader = await command.ExecuteReaderAsync();
        var rows = new List<(int, int)>();
        while (await reader.ReadAsync())
        {
            rows.Add((reader.GetInt32(0), reader.GetInt32(1)));
        }

        return rows.OrderBy(r => r.Item1).ToList();
    }

    private static async Task<(long Rows, int MaxVersion)> ReadStorageRowsAsync(string connectionString, string serviceId)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(
            "SELECT count(*), COALESCE(max(Version), 0) FROM OrleansStorage WHERE ServiceId = @service AND PayloadBinary IS NOT NULL", connection);
        command.Parameters.AddWithValue("service", serviceId);
        await using var reader = await command.ExecuteReaderAsync();
        Assert.True(await reader.ReadAsync());
        return (reader.GetInt64(0), reader.GetInt32(1));
    }

    private static async Task<List<string>> ReadStringsAsync(string connectionString, string sql)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        await using var reader = await command.ExecuteReaderAsync();
        var values = new List<string>();
        while (await reader.ReadAsync())
        {
            values.Add(reader.GetString(0));
        }

        return values;
    }

    private static async Task ExecuteAsync(string connectionString, string sql)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync();
    }
}

using System.Net;
using MetaNode.Grains.Hosting;
using MetaNode.Grains.Runtime.Process;
using MetaNode.Silo.Persistence;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using Orleans.Configuration;
using Orleans.Dashboard;

namespace MetaNode.Silo.Hosting;

public static class MetaNodeSiloExtensions
{
    /// <summary>Reads and validates the <c>MetaNode</c> section; throws <see cref="OptionsValidationException"/> listing every bad key.</summary>
    public static MetaNodeSiloOptions ReadMetaNodeOptions(this IConfiguration configuration)
    {
        var options = new MetaNodeSiloOptions();
        configuration.GetSection(MetaNodeSiloOptions.SectionName).Bind(options);
        var result = new MetaNodeSiloOptionsValidator().Validate(null, options);
        if (result.Failed)
        {
            throw new OptionsValidationException(MetaNodeSiloOptions.SectionName, typeof(MetaNodeSiloOptions), result.Failures);
        }

        options.DataDirectory = Path.GetFullPath(options.DataDirectory);
        return options;
    }

    /// <summary>Configures a MetaNode silo for the chosen profile: clustering, storage, reminders, runtimes, dashboard.</summary>
    public static ISiloBuilder AddMetaNode(this ISiloBuilder silo, MetaNodeSiloOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        Directory.CreateDirectory(options.DataDirectory);
        silo.Configure<ClusterOptions>(o =>
        {
            o.ClusterId = options.ClusterId;
            o.ServiceId = options.ServiceId;
        });

        switch (options.Profile)
        {
            case SiloProfile.Embedded:
                silo.UseLocalhostClustering(options.SiloPort, options.GatewayPort, serviceId: options.ServiceId, clusterId: options.ClusterId);
                var sqlite = Path.Combine(options.DataDirectory, "metanode.db");
                silo.AddSqliteGrainStorage(MetaNodeNames.VPodStorage, o => o.DatabasePath = sqlite);
                silo.AddSqliteGrainStorageAsDefault(o => o.DatabasePath = sqlite);
                silo.UseSqliteReminderService(o => o.DatabasePath = sqlite);
                break;
            case SiloProfile.Cluster:
                var connectionString = options.Database.ConnectionString!;
                silo.ConfigureEndpoints(IPAddress.Parse(options.AdvertisedAddress), options.SiloPort, options.GatewayPort, listenOnAnyHostAddress: true);
                silo.UseAdoNetClustering(o =>
                {
                    o.Invariant = options.Database.Invariant;
                    o.ConnectionString = connectionString;
                });
                silo.AddAdoNetGrainStorage(MetaNodeNames.VPodStorage, o =>
                {
                    o.Invariant = options.Database.Invariant;
                    o.ConnectionString = connectionString;
                });
                silo.AddAdoNetGrainStorageAsDefault(o =>
                {
                    o.Invariant = options.Database.Invariant;
                    o.ConnectionString = connectionString;
                });
                silo.UseAdoNetReminderService(o =>
                {
                    o.Invariant = options.Database.Invariant;
                    o.ConnectionString = connectionString;
                });
                break;
        }

        silo.AddDashboard();
        silo.Services.AddMetaNodeGrains();
        silo.Services.AddProcessRuntime();
        silo.Services.PostConfigure<ProcessRuntimeOptions>(o =>
        {
            if (string.IsNullOrEmpty(o.DataDirectory))
            {
                o.DataDirectory = options.DataDirectory;
            }
        });
        silo.Services.TryAddSingleton<SiloReadiness>();
        silo.Services.AddSingleton<ILifecycleParticipant<ISiloLifecycle>>(sp => sp.GetRequiredService<SiloReadiness>());
        return silo;
    }
}

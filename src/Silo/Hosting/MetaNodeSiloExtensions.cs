using System.Net;
using MetaNode.Grains.Chain;
using MetaNode.Grains.Hosting;
using MetaNode.Silo.Chain;
using MetaNode.Grains.Runtime.Kubernetes;
using MetaNode.Grains.Runtime.Docker;
using MetaNode.Grains.Runtime.Process;
using MetaNode.Silo.Backup;
using MetaNode.Silo.Persistence;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using Orleans.Configuration;
using Orleans.Providers;
using Orleans.Serialization;
using Orleans.Storage;
using Orleans.Dashboard;

namespace MetaNode.Silo.Hosting;

public static class MetaNodeSiloExtensions
{
    /// <summary>Reads and validates the <c>MetaNode</c> section; throws <see cref="OptionsValidationException"/> listing every bad key.</summary>
    public static MetaNodeSiloOptions ReadMetaNodeOptions(this IConfiguration configuration)
    {
        var options = new MetaNodeSiloOptions();
        configuration.GetSection(MetaNodeSiloOptions.SectionName).Bind(options);
        options.Kubernetes.ReadPodEnvironment(configuration);
        var result = new MetaNodeSiloOptionsValidator().Validate(null, options);
        var chain = new ChainOptions();
        configuration.GetSection(ChainOptions.SectionName).Bind(chain);
        var chainResult = new ChainOptionsValidator().Validate(null, chain);
        if (result.Failed || chainResult.Failed)
        {
            throw new OptionsValidationException(MetaNodeSiloOptions.SectionName, typeof(MetaNodeSiloOptions), [.. result.Failures ?? [], .. chainResult.Failures ?? []]);
        }

        options.DataDirectory = Path.GetFullPath(options.DataDirectory);
        if (options.Kubernetes.Enabled)
        {
            // In a pod the silo is reached at the pod's IP, whatever the configuration says.
            options.AdvertisedAddress = options.Kubernetes.PodIp!;
        }

        return options;
    }

    /// <summary>Configures a MetaNode silo for the chosen profile: clustering, storage, reminders, runtimes, dashboard.</summary>
    public static ISiloBuilder AddMetaNode(this ISiloBuilder silo, MetaNodeSiloOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        silo.Configure<ClusterOptions>(o =>
        {
            o.ClusterId = options.ClusterId;
            o.ServiceId = options.ServiceId;
        });

        switch (options.Profile)
        {
            case SiloProfile.Embedded:
                silo.UseLocalhostClustering(options.SiloPort, options.GatewayPort, serviceId: options.ServiceId, clusterId: options.ClusterId);
                break;
            case SiloProfile.Cluster:
                silo.ConfigureEndpoints(IPAddress.Parse(options.AdvertisedAddress), options.SiloPort, options.GatewayPort, listenOnAnyHostAddress: true);
                silo.UseAdoNetClustering(o =>
                {
                    o.Invariant = options.Database.Invariant;
                    o.ConnectionString = options.Database.ConnectionString;
                });
                break;
        }

        if (options.Kubernetes.Enabled)
        {
            silo.Configure<SiloOptions>(o => o.SiloName = options.Kubernetes.PodName!);
            // The silos' namespace is the pod's own; the vPods go to KubernetesRuntimeOptions.Namespace, never this one.
            silo.Services.PostConfigure<KubernetesRuntimeOptions>(o => o.SiloNamespace = string.IsNullOrWhiteSpace(o.SiloNamespace) ? options.Kubernetes.PodNamespace : o.SiloNamespace);
        }

        // Failure-detection timings (ProbeTimeout, NumMissedProbesLimit, ...) can be tuned under MetaNode:Membership.
        silo.Services.AddOptions<ClusterMembershipOptions>().BindConfiguration("MetaNode:Membership");
        silo.AddDashboard();
        silo.AddMetaNodePersistence(options).AddMetaNodeServices(options);
        silo.AddMetaNodeBackup(options);

        // The embedded profile with no chain configured runs its own dev chain (anvil) and deploys the registry.
        var chain = new ChainOptions();
        silo.Configuration.GetSection(ChainOptions.SectionName).Bind(chain);
        if (options.Profile == SiloProfile.Embedded && string.IsNullOrWhiteSpace(chain.RpcUrl) && chain.DevChain.Enabled)
        {
            silo.Services.AddSingleton<DevChainHost>();
            silo.Services.AddSingleton<ILifecycleParticipant<ISiloLifecycle>>(sp => sp.GetRequiredService<DevChainHost>());
        }

        return silo;
    }

    /// <summary>Grain storage and reminders for the profile: a SQLite file (embedded) or PostgreSQL (cluster).</summary>
    public static ISiloBuilder AddMetaNodePersistence(this ISiloBuilder silo, MetaNodeSiloOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        SiloDataDirectory.MakePrivate(options.DataDirectory);
        if (options.Profile == SiloProfile.Cluster)
        {
            void Database(AdoNetGrainStorageOptions o)
            {
                o.Invariant = options.Database.Invariant;
                o.ConnectionString = options.Database.ConnectionString;
            }

            silo.AddAdoNetGrainStorage(MetaNodeNames.VPodStorage, Database);
            silo.AddAdoNetGrainStorageAsDefault(Database);
            silo.AddAdoNetGrainStorage(MetaNodeNames.PubSubStorage, Database);
            UseOrleansSerializer<AdoNetGrainStorageOptions>(silo, MetaNodeNames.VPodStorage, ProviderConstants.DEFAULT_STORAGE_PROVIDER_NAME, MetaNodeNames.PubSubStorage);
            silo.UseAdoNetReminderService(o =>
            {
                o.Invariant = options.Database.Invariant;
                o.ConnectionString = options.Database.ConnectionString;
            });
            return silo;
        }

        var sqlite = Path.Combine(options.DataDirectory, "metanode.db");
        SiloDataDirectory.MakePrivateFile(sqlite);
        silo.AddSqliteGrainStorage(MetaNodeNames.VPodStorage, o => o.DatabasePath = sqlite);
        silo.AddSqliteGrainStorageAsDefault(o => o.DatabasePath = sqlite);
        silo.AddSqliteGrainStorage(MetaNodeNames.PubSubStorage, o => o.DatabasePath = sqlite);
        UseOrleansSerializer<SqliteStorageOptions>(silo, MetaNodeNames.VPodStorage, ProviderConstants.DEFAULT_STORAGE_PROVIDER_NAME, MetaNodeNames.PubSubStorage);
        silo.UseSqliteReminderService(o => o.DatabasePath = sqlite);
        return silo;
    }

    /// <summary>
    /// Grain state is stored with the Orleans serializer: it honours the contracts' [Id]s (version tolerant) and
    /// round-trips records with init-only and required members, which the JSON default does not.
    /// </summary>
    private static void UseOrleansSerializer<TOptions>(ISiloBuilder silo, params string[] names)
        where TOptions : class, IStorageProviderSerializerOptions
    {
        foreach (var name in names)
        {
            silo.Services.AddOptions<TOptions>(name).Configure<Serializer>((o, serializer) => o.GrainStorageSerializer = new OrleansGrainStorageSerializer(serializer));
        }
    }

    /// <summary>The vPod grains' services: runtimes, probes, reconciliation, readiness.</summary>
    public static ISiloBuilder AddMetaNodeServices(this ISiloBuilder silo, MetaNodeSiloOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        silo.Services.AddMetaNodeGrains();

        // Grain calls carry the caller's trace (W3C trace context in the request context): a round's trace spans every grain it calls.
        silo.AddActivityPropagation();
        silo.AddIncomingGrainCallFilter<MetaNode.Grains.Hosting.LogScopeFilter>();

        // Stream events are not durable across a silo loss (memory queues): consumers treat them as hints and
        // every protocol built on them re-reads persisted state or the chain to recover.
        // Federated updates ride these streams to validators within a round: the pulling agents look at their (few) queues every
        // 20 ms rather than the default 100 ms, so an update is usually verified before its round closes.
        silo.AddMemoryStreams(MetaNodeNames.StreamProvider, streams =>
        {
            streams.ConfigurePartitioning(4);
            streams.ConfigurePullingAgent(agent => agent.Configure(o => o.GetQueueMsgsTimerPeriod = TimeSpan.FromMilliseconds(20)));
        });
        silo.Services.AddProcessRuntime();
        silo.Services.AddKubernetesRuntime();
        silo.Services.AddDockerRuntime();

        // vPod data, logs and workload keys live beside the silo's data directory ({data}-vpods), never inside it, unless
        // MetaNode:Runtime:Process:DataDirectory says otherwise; a configured root inside the silo's data directory is warned about at start.
        var processDataDirectory = silo.Configuration["MetaNode:Runtime:Process:DataDirectory"];
        silo.Services.PostConfigure<ProcessRuntimeOptions>(o => o.DataDirectory = string.IsNullOrWhiteSpace(processDataDirectory) ? ProcessRuntimeRoot.DefaultFor(options.DataDirectory) : o.DataDirectory);
        silo.Services.AddSingleton<ILifecycleParticipant<ISiloLifecycle>>(sp => new ProcessRuntimeRootCheck(
            options.DataDirectory,
            sp.GetRequiredService<IOptions<ProcessRuntimeOptions>>(),
            sp.GetRequiredService<ILogger<ProcessRuntimeRootCheck>>(),
            () => sp.GetRequiredService<ProcessRuntime>()));
        silo.Services.PostConfigure<ChainOptions>(o => o.DataDirectory ??= options.DataDirectory);
        silo.Services.TryAddSingleton<SiloReadiness>();
        silo.Services.AddSingleton<ILifecycleParticipant<ISiloLifecycle>>(sp => sp.GetRequiredService<SiloReadiness>());
        return silo;
    }
}

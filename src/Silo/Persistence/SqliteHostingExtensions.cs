using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using Orleans.Configuration;
using Orleans.Providers;
using Orleans.Runtime.Hosting;
using Orleans.Serialization.Serializers;
using Orleans.Storage;

namespace MetaNode.Silo.Persistence;

/// <summary>
/// Registers the embedded profile's SQLite grain storage and reminder table on a silo.
/// </summary>
public static class SqliteHostingExtensions
{
    /// <summary>Adds a SQLite grain storage provider named <paramref name="name"/>.</summary>
    public static ISiloBuilder AddSqliteGrainStorage(this ISiloBuilder builder, string name, Action<SqliteStorageOptions> configureOptions)
    {
        ArgumentNullException.ThrowIfNull(configureOptions);
        return builder.AddSqliteGrainStorage(name, optionsBuilder => optionsBuilder.Configure(configureOptions));
    }

    /// <summary>Adds a SQLite grain storage provider named <paramref name="name"/>, configured through an options builder (e.g. to bind configuration).</summary>
    public static ISiloBuilder AddSqliteGrainStorage(this ISiloBuilder builder, string name, Action<OptionsBuilder<SqliteStorageOptions>> configureOptions)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.Services.AddSqliteGrainStorage(name, configureOptions);
        return builder;
    }

    /// <summary>Adds a SQLite grain storage provider as the silo's default storage.</summary>
    public static ISiloBuilder AddSqliteGrainStorageAsDefault(this ISiloBuilder builder, Action<SqliteStorageOptions> configureOptions) =>
        builder.AddSqliteGrainStorage(ProviderConstants.DEFAULT_STORAGE_PROVIDER_NAME, configureOptions);

    /// <summary>Adds a SQLite grain storage provider as the silo's default storage, configured through an options builder.</summary>
    public static ISiloBuilder AddSqliteGrainStorageAsDefault(this ISiloBuilder builder, Action<OptionsBuilder<SqliteStorageOptions>> configureOptions) =>
        builder.AddSqliteGrainStorage(ProviderConstants.DEFAULT_STORAGE_PROVIDER_NAME, configureOptions);

    /// <summary>Uses a SQLite file for the silo's reminder table (and enables reminders).</summary>
    public static ISiloBuilder UseSqliteReminderService(this ISiloBuilder builder, Action<SqliteStorageOptions> configureOptions)
    {
        ArgumentNullException.ThrowIfNull(configureOptions);
        return builder.UseSqliteReminderService(optionsBuilder => optionsBuilder.Configure(configureOptions));
    }

    /// <summary>Uses a SQLite file for the silo's reminder table (and enables reminders), configured through an options builder.</summary>
    public static ISiloBuilder UseSqliteReminderService(this ISiloBuilder builder, Action<OptionsBuilder<SqliteStorageOptions>> configureOptions)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.Services.UseSqliteReminderService(configureOptions);
        return builder;
    }

    /// <summary>Registers a SQLite grain storage provider named <paramref name="name"/>.</summary>
    public static IServiceCollection AddSqliteGrainStorage(this IServiceCollection services, string name, Action<OptionsBuilder<SqliteStorageOptions>> configureOptions)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        ArgumentNullException.ThrowIfNull(configureOptions);

        AddOptions(services, name, configureOptions);
        services.TryAddEnumerable(ServiceDescriptor.Transient<
            IPostConfigureOptions<SqliteStorageOptions>,
            DefaultStorageProviderSerializerOptionsConfigurator<SqliteStorageOptions>>());

        return services.AddGrainStorage(name, static (serviceProvider, providerName) => new SqliteGrainStorage(
            providerName,
            serviceProvider.GetRequiredService<IOptionsMonitor<SqliteStorageOptions>>().Get(providerName),
            serviceProvider.GetRequiredService<IOptions<ClusterOptions>>().Value.ServiceId,
            serviceProvider.GetRequiredService<IActivatorProvider>(),
            serviceProvider.GetRequiredService<ILogger<SqliteGrainStorage>>()));
    }

    /// <summary>Registers the SQLite reminder table and the reminder service.</summary>
    public static IServiceCollection UseSqliteReminderService(this IServiceCollection services, Action<OptionsBuilder<SqliteStorageOptions>> configureOptions)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configureOptions);

        services.AddReminders();
        AddOptions(services, SqliteReminderTable.OptionsName, configureOptions);
        services.RemoveAll<IReminderTable>();
        services.AddSingleton<IReminderTable>(static serviceProvider => new SqliteReminderTable(
            serviceProvider.GetRequiredService<IOptionsMonitor<SqliteStorageOptions>>().Get(SqliteReminderTable.OptionsName),
            serviceProvider.GetRequiredService<IOptions<ClusterOptions>>().Value.ServiceId,
            serviceProvider.GetRequiredService<ILogger<SqliteReminderTable>>()));
        return services;
    }

    private static void AddOptions(IServiceCollection services, string name, Action<OptionsBuilder<SqliteStorageOptions>> configureOptions)
    {
        var optionsBuilder = services.AddOptions<SqliteStorageOptions>(name);
        configureOptions(optionsBuilder);
        optionsBuilder.ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<SqliteStorageOptions>, SqliteStorageOptionsValidator>());
    }
}

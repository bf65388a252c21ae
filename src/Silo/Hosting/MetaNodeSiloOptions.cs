using System.Net;
using Microsoft.Extensions.Options;

namespace MetaNode.Silo.Hosting;

/// <summary>Which persistence and clustering a silo uses.</summary>
public enum SiloProfile
{
    None = 0,
    /// <summary>One silo on localhost; grain state and reminders in a SQLite file under the data directory.</summary>
    Embedded = 1,
    /// <summary>ADO.NET clustering, grain state and reminders on PostgreSQL; several silos form one cluster.</summary>
    Cluster = 2,
}

/// <summary>The silo's own settings, section <c>MetaNode</c>.</summary>
public sealed class MetaNodeSiloOptions
{
    public const string SectionName = "MetaNode";

    public SiloProfile Profile { get; set; } = SiloProfile.Embedded;

    /// <summary>Root for the SQLite file, vPod data and logs.</summary>
    public string DataDirectory { get; set; } = ".metanode";

    public string ClusterId { get; set; } = "metanode";

    public string ServiceId { get; set; } = "metanode";

    public int SiloPort { get; set; } = 11111;

    public int GatewayPort { get; set; } = 30000;

    /// <summary>The address other silos and clients use to reach this silo (cluster profile).</summary>
    public string AdvertisedAddress { get; set; } = "127.0.0.1";

    /// <summary>Where the dashboard and <c>/healthz</c> are served, <c>host:port</c>.</summary>
    public string HttpAddress { get; set; } = "127.0.0.1:8080";

    /// <summary>Where the same endpoints are also served over HTTPS with the silo's certificate, <c>host:port</c>; unset: no HTTPS.</summary>
    public string? HttpsAddress { get; set; }

    public DatabaseOptions Database { get; set; } = new();

    /// <summary>Mutual TLS and access control, section <c>MetaNode:Tls</c>.</summary>
    public SiloTlsOptions Tls { get; set; } = new();

    /// <summary>Running as a Kubernetes pod, section <c>MetaNode:Kubernetes</c>.</summary>
    public KubernetesHostingOptions Kubernetes { get; set; } = new();

    /// <summary><c>/metrics</c> and trace export, section <c>MetaNode:Telemetry</c>.</summary>
    public TelemetryOptions Telemetry { get; set; } = new();

    /// <summary>The console log's format, section <c>MetaNode:Logging</c>.</summary>
    public SiloLoggingOptions Logging { get; set; } = new();
}

/// <summary>Section <c>MetaNode:Logging</c> (levels stay under the standard <c>Logging:LogLevel</c>).</summary>
public sealed class SiloLoggingOptions
{
    /// <summary><c>text</c> (the default) or <c>json</c>: one JSON object per line, with the scopes (vPod, cluster, job, round) as fields.</summary>
    public string Format { get; set; } = "text";

    internal LogFormat Parsed => string.Equals(Format, "json", StringComparison.OrdinalIgnoreCase) ? LogFormat.Json : LogFormat.Text;
}

/// <summary>The PostgreSQL database of the cluster profile, section <c>MetaNode:Database</c>.</summary>
public sealed class DatabaseOptions
{
    [Redact]
    public string? ConnectionString { get; set; }

    public string Invariant { get; set; } = "Npgsql";

    /// <summary>Apply the schema and named queries when the silo starts (idempotent).</summary>
    public bool MigrateOnStart { get; set; } = true;
}

public sealed class MetaNodeSiloOptionsValidator : IValidateOptions<MetaNodeSiloOptions>
{
    public ValidateOptionsResult Validate(string? name, MetaNodeSiloOptions options)
    {
        var failures = new List<string>();
        if (options.Profile is not (SiloProfile.Embedded or SiloProfile.Cluster))
        {
            failures.Add($"MetaNode:Profile must be 'Embedded' or 'Cluster', got '{options.Profile}'.");
        }

        if (string.IsNullOrWhiteSpace(options.DataDirectory))
        {
            failures.Add("MetaNode:DataDirectory must not be empty.");
        }

        if (string.IsNullOrWhiteSpace(options.ClusterId))
        {
            failures.Add($"MetaNode:ClusterId must not be empty, got '{options.ClusterId}'.");
        }

        if (string.IsNullOrWhiteSpace(options.ServiceId))
        {
            failures.Add($"MetaNode:ServiceId must not be empty, got '{options.ServiceId}'.");
        }

        CheckPort(failures, "MetaNode:SiloPort", options.SiloPort);
        CheckPort(failures, "MetaNode:GatewayPort", options.GatewayPort);
        if (options.SiloPort == options.GatewayPort)
        {
            failures.Add($"MetaNode:SiloPort and MetaNode:GatewayPort must differ, both are '{options.SiloPort}'.");
        }

        if (!IPAddress.TryParse(options.AdvertisedAddress, out _))
        {
            failures.Add($"MetaNode:AdvertisedAddress must be an IP address, got '{options.AdvertisedAddress}'.");
        }

        if (!TryParseHostPort(options.HttpAddress, out _, out var httpPort) || httpPort is < 0 or > 65535)
        {
            failures.Add($"MetaNode:HttpAddress must be host:port (e.g. 127.0.0.1:8080), got '{options.HttpAddress}'.");
        }

        if (options.HttpsAddress is not null)
        {
            if (!TryParseHostPort(options.HttpsAddress, out _, out var httpsPort) || httpsPort is < 1 or > 65535)
            {
                failures.Add($"MetaNode:HttpsAddress must be host:port (e.g. 127.0.0.1:8443), got '{options.HttpsAddress}'.");
            }
            else if (options.Tls.Insecure)
            {
                failures.Add("MetaNode:HttpsAddress needs the silo's certificate, which MetaNode:Tls:Insecure turns off.");
            }
        }

        if (options.Profile == SiloProfile.Cluster)
        {
            if (string.IsNullOrWhiteSpace(options.Database.ConnectionString))
            {
                failures.Add("MetaNode:Database:ConnectionString is required for the Cluster profile (e.g. Host=127.0.0.1;Port=5432;Database=metanode;Username=metanode).");
            }

            if (options.Database.Invariant != "Npgsql")
            {
                failures.Add($"MetaNode:Database:Invariant must be 'Npgsql', got '{options.Database.Invariant}'.");
            }
        }

        if (!string.Equals(options.Logging.Format, "text", StringComparison.OrdinalIgnoreCase) && !string.Equals(options.Logging.Format, "json", StringComparison.OrdinalIgnoreCase))
        {
            failures.Add($"MetaNode:Logging:Format must be 'text' or 'json', got '{options.Logging.Format}'.");
        }

        failures.AddRange(options.Telemetry.Validate());
        failures.AddRange(options.Tls.Validate(options.Profile));
        failures.AddRange(options.Kubernetes.Validate(options));
        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }

    private static void CheckPort(List<string> failures, string key, int port)
    {
        if (port is < 1 or > 65535)
        {
            failures.Add($"{key} must be 1-65535, got '{port}'.");
        }
    }

    /// <summary>Splits <c>host:port</c>; the host may be empty for all interfaces.</summary>
    public static bool TryParseHostPort(string? value, out string host, out int port)
    {
        host = string.Empty;
        port = 0;
        if (string.IsNullOrWhiteSpace(value))
        {
            return false;
        }

        var colon = value.LastIndexOf(':');
        if (colon < 0 || !int.TryParse(value.AsSpan(colon + 1), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out port))
        {
            return false;
        }

        host = value[..colon];
        return host.Length > 0;
    }
}

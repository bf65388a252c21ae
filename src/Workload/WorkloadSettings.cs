using System.Globalization;
using System.Net;
using MetaNode.Workloads;

namespace MetaNode.Workload;

/// <summary>
/// Where the workload listens, which vPod it is, where its data partition lies and where it keeps its own key, from the
/// environment the runtime sets (<see cref="WorkloadProtocol"/> names the variables).
/// </summary>
public sealed record WorkloadSettings(string Host, IPAddress Address, int Port, string VPodId, string DataDirectory, string KeyDirectory)
{
    public const string HostVariable = WorkloadProtocol.HostVariable;
    public const string PortVariable = WorkloadProtocol.PortVariable;
    public const string VPodIdVariable = WorkloadProtocol.VPodIdVariable;
    public const string DataDirectoryVariable = WorkloadProtocol.DataDirectoryVariable;
    public const string KeyDirectoryVariable = WorkloadProtocol.KeyDirectoryVariable;
    public const string DefaultHost = "127.0.0.1";
    public const int DefaultPort = 8080;
    public const string UnknownVPodId = "unknown";

    /// <summary>The data directory of a containerized vPod, used when <see cref="DataDirectoryVariable"/> is not set.</summary>
    public const string DefaultDataDirectory = "/vpod/data";

    /// <summary>The key directory of a containerized vPod (its own volume), used when <see cref="KeyDirectoryVariable"/> is not set.</summary>
    public const string DefaultKeyDirectory = "/vpod/key";

    public string Url => Address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6
        ? $"http://[{Host}]:{Port}"
        : $"http://{Host}:{Port}";

    /// <summary>Reads the settings; throws <see cref="FormatException"/> naming the variable and its bad value.</summary>
    public static WorkloadSettings FromEnvironment(Func<string, string?>? getVariable = null)
    {
        getVariable ??= Environment.GetEnvironmentVariable;
        var host = getVariable(HostVariable)?.Trim();
        if (string.IsNullOrEmpty(host))
        {
            host = DefaultHost;
        }

        IPAddress address;
        if (string.Equals(host, "localhost", StringComparison.OrdinalIgnoreCase))
        {
            address = IPAddress.Loopback;
        }
        else if (!IPAddress.TryParse(host.Trim('[', ']'), out address!))
        {
            throw new FormatException($"{HostVariable}='{host}' is not an IP address (use e.g. 127.0.0.1 or 0.0.0.0).");
        }

        var port = DefaultPort;
        var portText = getVariable(PortVariable)?.Trim();
        if (!string.IsNullOrEmpty(portText)
            && (!int.TryParse(portText, NumberStyles.None, CultureInfo.InvariantCulture, out port) || port > 65535))
        {
            throw new FormatException($"{PortVariable}='{portText}' is not a port number (0 to 65535).");
        }

        var vpodId = getVariable(VPodIdVariable)?.Trim();
        return new WorkloadSettings(
            host.Trim('[', ']'),
            address,
            port,
            string.IsNullOrEmpty(vpodId) ? UnknownVPodId : vpodId,
            DirectoryOrDefault(getVariable(DataDirectoryVariable), DefaultDataDirectory),
            DirectoryOrDefault(getVariable(KeyDirectoryVariable), DefaultKeyDirectory));
    }

    private static string DirectoryOrDefault(string? value, string fallback)
    {
        var trimmed = value?.Trim();
        return string.IsNullOrEmpty(trimmed) ? fallback : Path.GetFullPath(trimmed);
    }
}

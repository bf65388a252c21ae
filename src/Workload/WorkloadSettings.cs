using System.Globalization;
using System.Net;

namespace MetaNode.Workload;

/// <summary>Where the workload listens, which vPod it is and where its data partition lies, from the environment the runtime sets.</summary>
public sealed record WorkloadSettings(string Host, IPAddress Address, int Port, string VPodId, string DataDirectory)
{
    public const string HostVariable = "METANODE_HOST";
    public const string PortVariable = "METANODE_PORT";
    public const string VPodIdVariable = "METANODE_VPOD_ID";
    public const string DataDirectoryVariable = "METANODE_DATA_DIR";
    public const string DefaultHost = "127.0.0.1";
    public const int DefaultPort = 8080;
    public const string UnknownVPodId = "unknown";

    /// <summary>The data directory of a containerized vPod, used when <see cref="DataDirectoryVariable"/> is not set.</summary>
    public const string DefaultDataDirectory = "/vpod/data";

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
        var dataDirectory = getVariable(DataDirectoryVariable)?.Trim();
        return new WorkloadSettings(
            host.Trim('[', ']'),
            address,
            port,
            string.IsNullOrEmpty(vpodId) ? UnknownVPodId : vpodId,
            string.IsNullOrEmpty(dataDirectory) ? DefaultDataDirectory : Path.GetFullPath(dataDirectory));
    }
}

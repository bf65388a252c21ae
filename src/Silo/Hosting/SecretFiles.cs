namespace MetaNode.Silo.Hosting;

/// <summary>
/// Secrets read from files: for each key in <see cref="Keys"/>, <c>{key}File</c> names a file (a mounted Kubernetes Secret, a
/// file only the silo's user may read) whose content, without its trailing line break, becomes the key's value. A secret given
/// both ways, a missing file, or a file any user of the machine may read is refused before the silo starts.
/// </summary>
public static class SecretFiles
{
    public static readonly IReadOnlyList<string> Keys =
    [
        "MetaNode:Database:ConnectionString",
        "MetaNode:Chain:AccountPrivateKey",
        "MetaNode:Chain:KeystorePassword",
    ];

    /// <summary>The values the files give, by key, and the problems found; reads nothing but the named files.</summary>
    public static (IReadOnlyDictionary<string, string?> Values, IReadOnlyList<string> Failures) Read(IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        var values = new Dictionary<string, string?>(StringComparer.OrdinalIgnoreCase);
        var failures = new List<string>();
        foreach (var key in Keys)
        {
            var path = configuration[key + "File"];
            if (string.IsNullOrWhiteSpace(path))
            {
                continue;
            }

            if (!string.IsNullOrEmpty(configuration[key]))
            {
                failures.Add($"{key} is given both directly and as {key}File '{path}'; give it one way.");
                continue;
            }

            if (!File.Exists(path))
            {
                failures.Add($"{key}File names '{path}', which does not exist.");
                continue;
            }

            if (!OperatingSystem.IsWindows() && (File.GetUnixFileMode(path) & (UnixFileMode.OtherRead | UnixFileMode.OtherWrite)) != 0)
            {
                failures.Add($"{key}File '{path}' may be read or written by any user of the machine; make it 0600 (or 0440 with a group only the silo is in).");
                continue;
            }

            var value = File.ReadAllText(path).TrimEnd('\r', '\n');
            if (value.Length == 0)
            {
                failures.Add($"{key}File '{path}' is empty.");
                continue;
            }

            values[key] = value;
        }

        return (values, failures);
    }
}

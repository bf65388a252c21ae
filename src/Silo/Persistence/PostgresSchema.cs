using System.Reflection;
using System.Security.Cryptography;
using System.Text;

namespace MetaNode.Silo.Persistence;

/// <summary>
/// The PostgreSQL schema of the cluster profile: the scripts (embedded in this assembly) that create the
/// tables and the named queries the Orleans ADO.NET clustering, persistence and reminders providers read
/// from <c>OrleansQuery</c>, in the order they must be applied.
/// </summary>
public static class PostgresSchema
{
    /// <summary>The schema version these scripts install. Raise it whenever a script changes.</summary>
    public const int Version = 2;

    /// <summary>What <see cref="Version"/> installs, recorded beside the version row.</summary>
    public const string Description = "Orleans ADO.NET clustering, grain persistence and reminders (Orleans 10); MetaNode audit log";

    /// <summary>The ADO.NET invariant name the Orleans providers must be configured with.</summary>
    public const string Invariant = "Npgsql";

    /// <summary>The script file names, in application order.</summary>
    public static IReadOnlyList<string> ScriptNames { get; } =
    [
        "PostgreSQL-Main.sql",
        "PostgreSQL-Clustering.sql",
        "PostgreSQL-Persistence.sql",
        "PostgreSQL-Reminders.sql",
        "PostgreSQL-Audit.sql",
    ];

    /// <summary>Loads the scripts, in application order.</summary>
    public static IReadOnlyList<SqlScript> LoadScripts()
    {
        var assembly = typeof(PostgresSchema).Assembly;
        var resourceNames = assembly.GetManifestResourceNames();
        var scripts = new List<SqlScript>(ScriptNames.Count);
        foreach (var scriptName in ScriptNames)
        {
            var resourceName = resourceNames.SingleOrDefault(r => r.EndsWith("." + scriptName, StringComparison.Ordinal))
                ?? throw new InvalidOperationException(
                    $"The SQL script '{scriptName}' is not embedded in {assembly.GetName().Name}; check the EmbeddedResource item for Persistence/Sql/*.sql.");
            scripts.Add(new SqlScript(scriptName, ReadResource(assembly, resourceName)));
        }

        return scripts;
    }

    /// <summary>A SHA-256 over all scripts, to tell which script set installed a version.</summary>
    public static string ComputeSha256(IEnumerable<SqlScript> scripts)
    {
        ArgumentNullException.ThrowIfNull(scripts);
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        foreach (var script in scripts)
        {
            hash.AppendData(Encoding.UTF8.GetBytes(script.Name));
            hash.AppendData([0]);
            hash.AppendData(Encoding.UTF8.GetBytes(script.Text));
            hash.AppendData([0]);
        }

        return Convert.ToHexStringLower(hash.GetHashAndReset());
    }

    private static string ReadResource(Assembly assembly, string resourceName)
    {
        using var stream = assembly.GetManifestResourceStream(resourceName)
            ?? throw new InvalidOperationException($"The embedded resource '{resourceName}' could not be opened.");
        using var reader = new StreamReader(stream, Encoding.UTF8);
        return reader.ReadToEnd();
    }
}

/// <summary>One SQL script: its file name and its text.</summary>
public sealed record SqlScript(string Name, string Text);

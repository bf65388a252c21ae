using System.Text.Json;
using System.Text.Json.Serialization;

namespace MetaNode.Cli;

/// <summary>JSON as scripts read it: camelCase properties, enums by name (<c>Running</c>, <c>Healthy</c>), dictionary keys as given.</summary>
public static class CliJson
{
    public static JsonSerializerOptions Indented { get; } = Create(writeIndented: true);

    /// <summary>One object per line, for streamed log lines.</summary>
    public static JsonSerializerOptions Compact { get; } = Create(writeIndented: false);

    private static JsonSerializerOptions Create(bool writeIndented)
    {
        var options = new JsonSerializerOptions(JsonSerializerDefaults.Web)
        {
            WriteIndented = writeIndented,
            Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        };
        options.Converters.Add(new JsonStringEnumConverter());
        options.MakeReadOnly(populateMissingResolver: true);
        return options;
    }
}

using System.Text.Json;
using System.Text.Json.Serialization;
using MetaNode.Federation;
using MetaNode.Grains.VPods;
using MetaNode.VPods;
using Microsoft.Extensions.DependencyInjection;
using Orleans.Serialization;

namespace MetaNode.Tests.Infrastructure;

/// <summary>
/// Orleans' serializer and copier over every assembly whose types cross the wire or are persisted. <see cref="Of{T}"/> sends a value
/// through both and asserts each comes back whole: the same content field by field (as JSON), the same type, and for exceptions the
/// same message. A field that is not carried fails the test, not just a null.
/// </summary>
internal static class OrleansRoundTrip
{
    private static readonly JsonSerializerOptions Json = new() { Converters = { new ModelAsParameters() } };

    public static IServiceProvider Services { get; } = new ServiceCollection()
        .AddSerializer(b => b
            .AddAssembly(typeof(VPodSpec).Assembly)
            .AddAssembly(typeof(VPodState).Assembly))
        .BuildServiceProvider();

    public static T Of<T>(T value)
    {
        ArgumentNullException.ThrowIfNull(value);
        var serializer = Services.GetRequiredService<Serializer>();
        var back = serializer.Deserialize<T>(serializer.SerializeToArray(value))!;
        var copy = Services.GetRequiredService<DeepCopier>().Copy(value)!;
        AssertSame(value, back, "deserialized");
        AssertSame(value, copy, "copied");
        return back;
    }

    private static void AssertSame<T>(T expected, T actual, string how)
    {
        Assert.NotNull(actual);
        Assert.Equal(expected!.GetType(), actual!.GetType());
        if (expected is Exception error)
        {
            Assert.Equal(error.Message, ((Exception)(object)actual).Message);
            return;
        }

        var want = JsonSerializer.Serialize(expected, expected.GetType(), Json);
        var got = JsonSerializer.Serialize(actual, actual.GetType(), Json);
        Assert.True(want == got, $"{typeof(T).Name} {how} differs:\n  sent {want}\n  got  {got}");
    }

    /// <summary>A model as its shape and parameters (its span views cannot be written as JSON).</summary>
    private sealed class ModelAsParameters : JsonConverter<FederatedModel>
    {
        public override FederatedModel Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) =>
            throw new NotSupportedException("only written, for comparison");

        public override void Write(Utf8JsonWriter writer, FederatedModel value, JsonSerializerOptions options) =>
            JsonSerializer.Serialize(writer, new { value.Classes, value.Features, value.Parameters }, options);
    }
}

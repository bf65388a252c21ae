using System.Collections;
using System.Reflection;

namespace MetaNode.Tests.Serialization;

/// <summary>
/// Walks persisted contracts by their <c>[Id]</c> members: whether a built state sets every member, and where two states differ.
/// A contract is a type marked <c>[GenerateSerializer]</c>; anything else (strings, numbers, times, silo addresses) is a value.
/// </summary>
internal static class PersistedStateGraph
{
    private const BindingFlags Instance = BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Instance;

    public static bool IsContract(Type type) => type.IsDefined(typeof(GenerateSerializerAttribute), inherit: false) && !type.IsEnum;

    /// <summary>The members the serializer stores: properties and fields carrying <c>[Id]</c>, in id order.</summary>
    public static IReadOnlyList<(uint Id, string Name, Func<object, object?> Read)> Members(Type type)
    {
        var members = new List<(uint, string, Func<object, object?>)>();
        for (var t = type; t is not null && t != typeof(object); t = t.BaseType)
        {
            foreach (var property in t.GetProperties(Instance | BindingFlags.DeclaredOnly))
            {
                if (property.GetCustomAttribute<IdAttribute>() is { } id)
                {
                    members.Add((id.Id, property.Name, property.GetValue));
                }
            }

            foreach (var field in t.GetFields(Instance | BindingFlags.DeclaredOnly))
            {
                if (field.GetCustomAttribute<IdAttribute>() is { } id)
                {
                    members.Add((id.Id, field.Name, field.GetValue));
                }
            }
        }

        return [.. members.OrderBy(m => m.Item1)];
    }

    /// <summary>
    /// Paths of members that hold their type's default (null, zero, false, the zero enum member, an empty text or collection), or a
    /// collection of a compiler-synthesized type (its stored form would follow the compiler, not the contract).
    /// </summary>
    public static List<string> Gaps(object root)
    {
        var unset = new List<string>();
        Walk(root, root.GetType().Name, unset);
        return unset;

        static void Walk(object value, string path, List<string> unset)
        {
            if (IsContract(value.GetType()))
            {
                foreach (var member in Members(value.GetType()))
                {
                    var child = member.Read(value);
                    var childPath = $"{path}.{member.Name}";
                    if (IsDefault(child))
                    {
                        unset.Add(childPath);
                    }
                    else
                    {
                        Walk(child!, childPath, unset);
                    }
                }
            }
            else if (value is IEnumerable items and not string)
            {
                if (value.GetType().IsDefined(typeof(System.Runtime.CompilerServices.CompilerGeneratedAttribute)))
                {
                    unset.Add($"{path}: a compiler-synthesized {value.GetType().Name}");
                }

                var index = 0;
                foreach (var item in items)
                {
                    if (item is not null)
                    {
                        Walk(item, $"{path}[{index}]", unset);
                    }

                    index++;
                }
            }
            else if (IsKeyValuePair(value.GetType()))
            {
                Walk(value.GetType().GetProperty("Value")!.GetValue(value)!, $"{path}.Value", unset);
            }
        }
    }

    private static bool IsDefault(object? value) => value switch
    {
        null => true,
        string text => text.Length == 0,
        Enum e => Convert.ToInt64(e, System.Globalization.CultureInfo.InvariantCulture) == 0,
        IEnumerable items => !items.GetEnumerator().MoveNext(),
        _ when value.GetType().IsValueType => value.Equals(Activator.CreateInstance(value.GetType())),
        _ => false,
    };

    /// <summary>Where <paramref name="actual"/> differs from <paramref name="expected"/>, member by member and element by element.</summary>
    public static List<string> Differences(object? expected, object? actual)
    {
        var differences = new List<string>();
        Compare(expected, actual, expected?.GetType().Name ?? "state", differences);
        return differences;
    }

    private static void Compare(object? expected, object? actual, string path, List<string> differences)
    {
        if (expected is null || actual is null)
        {
            if (expected is not null || actual is not null)
            {
                differences.Add($"{path}: expected {Show(expected)}, read {Show(actual)}");
            }

            return;
        }

        // A read-only list or dictionary may come back as another implementation of its interface: its items are what is stored.
        var type = expected.GetType();
        if (type != actual.GetType() && !(expected is IEnumerable && actual is IEnumerable))
        {
            differences.Add($"{path}: expected a {type.Name}, read a {actual.GetType().Name}");
            return;
        }

        if (IsContract(type))
        {
            foreach (var member in Members(type))
            {
                Compare(member.Read(expected), member.Read(actual), $"{path}.{member.Name}", differences);
            }
        }
        else if (expected is IDictionary expectedMap && actual is IDictionary)
        {
            CompareComparers(expected, actual, path, differences);
            CompareSequences(expectedMap.Keys, ((IDictionary)actual).Keys, $"{path}.Keys", differences);
            foreach (var key in expectedMap.Keys)
            {
                var actualMap = (IDictionary)actual;
                Compare(expectedMap[key], actualMap.Contains(key) ? actualMap[key] : null, $"{path}[{key}]", differences);
            }
        }
        else if (expected is IEnumerable expectedItems and not string)
        {
            CompareSequences(expectedItems, (IEnumerable)actual, path, differences);
        }
        else if (!SameValue(expected, actual))
        {
            differences.Add($"{path}: expected {Show(expected)}, read {Show(actual)}");
        }
    }

    private static void CompareSequences(IEnumerable expected, IEnumerable actual, string path, List<string> differences)
    {
        var left = expected.Cast<object?>().ToList();
        var right = actual.Cast<object?>().ToList();
        if (left.Count != right.Count)
        {
            differences.Add($"{path}: expected {left.Count} items, read {right.Count}");
            return;
        }

        for (var i = 0; i < left.Count; i++)
        {
            Compare(left[i], right[i], $"{path}[{i}]", differences);
        }
    }

    /// <summary>A dictionary's key comparer is part of what is stored (ordinal keys stay ordinal).</summary>
    private static void CompareComparers(object expected, object actual, string path, List<string> differences)
    {
        var comparer = expected.GetType().GetProperty("Comparer");
        if (comparer is not null && !Equals(comparer.GetValue(expected), comparer.GetValue(actual)))
        {
            differences.Add($"{path}: expected the key comparer {comparer.GetValue(expected)}, read {comparer.GetValue(actual)}");
        }
    }

    /// <summary>Exact equality: an instant keeps its offset, a double its bits.</summary>
    private static bool SameValue(object expected, object actual) => (expected, actual) switch
    {
        (DateTimeOffset a, DateTimeOffset b) => a.UtcTicks == b.UtcTicks && a.Offset == b.Offset,
        (double a, double b) => BitConverter.DoubleToInt64Bits(a) == BitConverter.DoubleToInt64Bits(b),
        _ => expected.Equals(actual),
    };

    private static bool IsKeyValuePair(Type type) => type.IsGenericType && type.GetGenericTypeDefinition() == typeof(KeyValuePair<,>);

    private static string Show(object? value) => value switch
    {
        null => "null",
        string text => $"\"{text}\"",
        DateTimeOffset at => at.ToString("O", System.Globalization.CultureInfo.InvariantCulture),
        _ => value.ToString() ?? value.GetType().Name,
    };
}

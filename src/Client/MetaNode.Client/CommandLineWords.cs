namespace MetaNode.Client;

/// <summary>A command line split into words as a POSIX shell would, without expansions. Pure functions.</summary>
public static class CommandLineWords
{
    /// <summary>Splits a command line into words: whitespace separates, single and double quotes group, a backslash escapes outside single quotes.</summary>
    public static bool TrySplit(string? commandLine, out IReadOnlyList<string> words, out string error)
    {
        var result = new List<string>();
        words = result;
        var current = new System.Text.StringBuilder();
        var inWord = false;
        char? quote = null;
        var text = commandLine ?? string.Empty;
        for (var i = 0; i < text.Length; i++)
        {
            var c = text[i];
            if (quote == '\'')
            {
                if (c == '\'')
                {
                    quote = null;
                }
                else
                {
                    current.Append(c);
                }

                continue;
            }

            if (c == '\\' && i + 1 < text.Length)
            {
                current.Append(text[++i]);
                inWord = true;
                continue;
            }

            if (quote == '"')
            {
                if (c == '"')
                {
                    quote = null;
                }
                else
                {
                    current.Append(c);
                }

                continue;
            }

            if (c is '\'' or '"')
            {
                quote = c;
                inWord = true;
            }
            else if (char.IsWhiteSpace(c))
            {
                if (inWord)
                {
                    result.Add(current.ToString());
                    current.Clear();
                    inWord = false;
                }
            }
            else
            {
                current.Append(c);
                inWord = true;
            }
        }

        if (quote is not null)
        {
            error = $"the quote {quote} is not closed";
            return false;
        }

        if (inWord)
        {
            result.Add(current.ToString());
        }

        if (result.Count == 0 || result[0].Length == 0)
        {
            error = "give a program and its arguments";
            return false;
        }

        error = string.Empty;
        return true;
    }
}
